"""Driving the real streaming replica (127.0.0.1:5433) from tests: WAL positions, pause, outage.

Waiting for replication compares WAL positions; nothing here sleeps a fixed time.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from django_cfg import DatabaseConfig
from tests.services import POSTGRES_URL, REPLICA_URL

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


def primary_lsn() -> str:
    with _connect(POSTGRES_URL) as connection:
        return str(connection.execute("SELECT pg_current_wal_lsn()").fetchone()[0])  # type: ignore[index]


def wait_for_replica(timeout: float = 30) -> None:
    """Until the replica has replayed everything the primary has written so far."""
    target = primary_lsn()
    deadline = time.monotonic() + timeout
    with _connect(REPLICA_URL) as replica:
        while True:
            caught_up = replica.execute(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]
            ).fetchone()[0]  # type: ignore[index]
            if caught_up:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the replica did not reach {target} in {timeout} s")
            replica.execute("SELECT pg_sleep(0.005)")


@contextmanager
def replay_paused() -> Iterator[None]:
    """The replica receives WAL but does not apply it: its data stays as it is."""
    with _connect(REPLICA_URL) as replica:
        replica.execute("SELECT pg_wal_replay_pause()")
        try:
            yield
        finally:
            replica.execute("SELECT pg_wal_replay_resume()")


def _pg_ctl(*args: str) -> None:
    subprocess.run(
        ["runuser", "-u", "postgres", "--", PG_CTL, *args, "-D", REPLICA_DATA],
        cwd="/",
        check=True,
        capture_output=True,
        timeout=60,
    )


def stop_replica() -> None:
    _pg_ctl("stop", "-w", "-m", "fast")


def start_replica() -> None:
    if (
        subprocess.run(
            ["runuser", "-u", "postgres", "--", PG_CTL, "status", "-D", REPLICA_DATA],
            cwd="/",
            capture_output=True,
        ).returncode
        == 0
    ):
        return
    _pg_ctl("start", "-w", "-t", "30", "-l", REPLICA_LOG, "-o", f"-c config_file={REPLICA_CONFIG}")
