"""Driving the real streaming replica (127.0.0.1:5433) from tests: WAL positions, pause, start.

Waiting for replication compares WAL positions; nothing here sleeps a fixed time. Nothing here
stops the shared replica (other test sessions read from it, and a run killed meanwhile would
leave it down): an outage is a private standby's (tests/support/standby_outage.py).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from django_cfg import DatabaseConfig
from django_cfg.state.wal import format_lsn, replayed_position, written_position
from tests.support.services import POSTGRES_URL, REPLICA_URL

PG_VERSION = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
PG_CTL = f"/usr/lib/postgresql/{PG_VERSION}/bin/pg_ctl"
REPLICA_DATA = f"/var/lib/postgresql/{PG_VERSION}/replica"
REPLICA_CONFIG = f"/etc/postgresql/{PG_VERSION}/replica/postgresql.conf"
REPLICA_LOG = f"/var/log/postgresql/postgresql-{PG_VERSION}-replica.log"


def _connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    database = DatabaseConfig.from_url(url)
    return psycopg.connect(
        host=database.host,
        port=database.port,
        user=database.user,
        dbname="postgres",
        autocommit=True,
        connect_timeout=5,
    )


def primary_lsn() -> int:
    with _connect(POSTGRES_URL) as connection:
        written = written_position(connection.cursor())
        assert written is not None
        return written


def wait_for_replica(timeout: float = 30) -> None:
    """Until the replica has replayed everything the primary has written so far."""
    target = primary_lsn()
    deadline = time.monotonic() + timeout
    with _connect(REPLICA_URL) as replica:
        while True:
            if (replayed_position(replica.cursor()) or 0) >= target:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the replica did not reach {format_lsn(target)} in {timeout} s")
            replica.execute("SELECT pg_sleep(0.005)")


def terminate_on_replica(pid: int) -> None:
    """End one session of the replica server, as a crash or a restart would for its client."""
    with _connect(REPLICA_URL) as replica:
        replica.execute("SELECT pg_terminate_backend(%s)", [pid])


@contextmanager
def replay_paused() -> Iterator[None]:
    """The replica receives WAL but does not apply it: its data stays as it is."""
    with _connect(REPLICA_URL) as replica:
        replica.execute("SELECT pg_wal_replay_pause()")
        try:
            yield
        finally:
            replica.execute("SELECT pg_wal_replay_resume()")


def start_replica() -> None:
    """Start the shared replica if it is stopped (a fresh machine, a crash); a running one is
    left alone. There is no stop: see the module's docstring."""

    def pg_ctl(*args: str, check: bool = True) -> int:
        return subprocess.run(
            ["runuser", "-u", "postgres", "--", PG_CTL, *args, "-D", REPLICA_DATA],
            cwd="/",
            check=check,
            capture_output=True,
            timeout=60,
        ).returncode

    if pg_ctl("status", check=False) == 0:
        return
    pg_ctl("start", "-w", "-t", "30", "-l", REPLICA_LOG, "-o", f"-c config_file={REPLICA_CONFIG}")
