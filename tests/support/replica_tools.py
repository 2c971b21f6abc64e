"""Driving the real streaming replica (127.0.0.1:5433) from tests: WAL positions, pause, outage.

Waiting for replication compares WAL positions; nothing here sleeps a fixed time.
"""

from __future__ import annotations

import contextvars
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
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


@dataclass
class Read:
    started: float
    finished: float
    served_by: str | None  # "standby", "primary", or None: the read failed
    reader: int


@dataclass
class OutageRun:
    """What reader threads saw while the replica was stopped and started again."""

    stopping: float = 0.0  # monotonic times
    stopped: float = 0.0
    restarted: float = 0.0
    reads: list[Read] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def back_on_standby(self) -> dict[int, float]:
        """Reader -> when its first read from the standby after the restart finished."""
        back: dict[int, float] = {}
        for read in list(self.reads):
            if read.started > self.restarted and read.served_by == "standby":
                back[read.reader] = min(back.get(read.reader, read.finished), read.finished)
        return back


def read_through_outage(
    read: Callable[[], str | None], readers: int, before: float, outage: float
) -> OutageRun:
    """``readers`` threads call ``read`` (each in a context of its own) in a loop; after
    ``before`` seconds the replica is stopped for ``outage`` seconds, then started, and the
    threads go on until every one of them has read from the standby again (60 s at most).
    ``read`` returns who served it; an exception it raises is a failed read."""
    from django.db import connections

    run = OutageRun()
    stop = threading.Event()

    def reader(number: int) -> None:
        try:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    served_by = read()
                except BaseException as error:  # every failed read is counted
                    run.errors.append(error)
                    served_by = None
                run.reads.append(Read(started, time.monotonic(), served_by, number))
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=contextvars.Context().run, args=(reader, n)) for n in range(readers)
    ]
    for thread in threads:
        thread.start()
    try:
        time.sleep(before)
        run.stopping = time.monotonic()
        stop_replica()
        run.stopped = time.monotonic()
        time.sleep(outage)
        start_replica()
        run.restarted = time.monotonic()
        deadline = run.restarted + 60
        while time.monotonic() < deadline and len(run.back_on_standby()) < readers:
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        start_replica()
    return run
