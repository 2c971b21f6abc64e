"""A PostgreSQL primary and hot standby of a test's own, on free ports, so that pausing replay
or stopping the standby never touches the shared 5432/5433 that other tests use.

    with private_standby("app") as pair:            # about 3 s to build
        DatabaseConfig.from_url(pair.primary_url)
        DatabaseConfig.from_url(pair.standby_url, replica_of="default")
        pair.wait_for_standby()                     # the standby has replayed every write so far
        with pair.replay_paused():                  # it receives WAL but applies none
            ...
        pair.stop_standby()                         # pg_ctl stop -m fast: an outage
        pair.start_standby()                        # back, catching up from the primary
        pair.manage(project, "migrate")             # PRIMARY_URL, STANDBY_URL set for it
        pair.migrated(project, "auth.User")         # migrate, then no User rows left

A test module that imports ``module_standby`` has the fixture ``standby``: one pair for the
module, its database named after the module.

Built with initdb, ``pg_basebackup -R`` and ``pg_ctl`` (as the postgres user, in a temporary
folder it owns), stopped and removed in a ``finally``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from django_cfg.state.wal import format_lsn, replayed_position, written_position
from tests.support.private_postgres import BIN, as_postgres, free_port
from tests.support.spec_page import user_environment


@dataclass(frozen=True)
class StandbyPair:
    """Where the pair runs, and how to drive its replication."""

    folder: Path
    primary_port: int
    standby_port: int
    database: str

    @property
    def primary_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.primary_port}/{self.database}"

    @property
    def standby_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.standby_port}/{self.database}"

    def connect(self, port: int) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
        )

    def wait_for_standby(self, timeout: float = 30) -> None:
        """Until the standby has replayed everything the primary has written so far."""
        with self.connect(self.primary_port) as primary:
            target = written_position(primary.cursor()) or 0
        deadline = time.monotonic() + timeout
        with self.connect(self.standby_port) as standby:
            while (replayed_position(standby.cursor()) or 0) < target:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the standby did not reach {format_lsn(target)}")
                standby.execute("SELECT pg_sleep(0.005)")

    @contextmanager
    def replay_paused(self) -> Iterator[None]:
        """The standby receives WAL but applies none of it: its data stays as it is."""
        with self.connect(self.standby_port) as standby:
            standby.execute("SELECT pg_wal_replay_pause()")
            try:
                yield
            finally:
                standby.execute("SELECT pg_wal_replay_resume()")

    def stop_standby(self) -> None:
        """Shut the standby down (``pg_ctl stop -m fast``, ~0.1 s): its open sessions end with
        "terminating connection due to administrator command", new ones are refused."""
        as_postgres(
            str(BIN / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.folder / "standby")
        )

    def start_standby(self) -> None:
        """Start the stopped standby again; it catches up from the primary's WAL."""
        _start(self.folder / "standby", self.standby_port, self.folder / "standby.log")

    def manage(self, project: Path, *args: str, **environ: str) -> str:
        """``python manage.py ARGS`` in ``project`` with PRIMARY_URL and STANDBY_URL (the
        pair's) and ``environ`` set: its output (it must succeed)."""
        run = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=project,
            env={
                **user_environment(),
                "PRIMARY_URL": self.primary_url,
                "STANDBY_URL": self.standby_url,
                **environ,
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        return run.stdout

    def migrated(self, project: Path, *emptied: str) -> None:
        """``manage.py migrate`` of ``project`` on the pair, then every row of the models
        ``emptied`` ("app_label.Model") deleted: the pair serves a module's tests in turn."""
        self.manage(project, "migrate", "--verbosity", "0")
        for model in emptied:
            delete = (
                f"from django.apps import apps; apps.get_model({model!r}).objects.all().delete()"
            )
            self.manage(project, "shell", "-c", delete)


def _start(data: Path, port: int, log: Path) -> None:
    as_postgres(
        str(BIN / "pg_ctl"), "start", "-w", "-t", "30", "-D", str(data), "-l", str(log),
        "-o", f"-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''",
    )  # fmt: skip


@contextmanager
def private_standby(database: str) -> Iterator[StandbyPair]:
    """A running primary with ``database`` created and a streaming hot standby of it."""
    folder = Path(tempfile.mkdtemp(prefix="django_cfg_standby_"))
    shutil.chown(folder, "postgres", "postgres")
    pair = StandbyPair(folder, free_port(), free_port(), database)
    primary, standby = folder / "primary", folder / "standby"
    started: list[Path] = []
    try:
        as_postgres(str(BIN / "initdb"), "-D", str(primary), "-U", "postgres", "-A", "trust")
        with (primary / "postgresql.conf").open("a") as conf:
            conf.write("fsync = off\nmax_connections = 40\n")
        _start(primary, pair.primary_port, folder / "primary.log")
        started.append(primary)
        with pair.connect(pair.primary_port) as connection:
            connection.execute(f'CREATE DATABASE "{database}"')
        as_postgres(
            str(BIN / "pg_basebackup"), "-D", str(standby), "-R", "-X", "stream", "-c", "fast",
            "-d", f"host=127.0.0.1 port={pair.primary_port} user=postgres",
        )  # fmt: skip
        _start(standby, pair.standby_port, folder / "standby.log")
        started.append(standby)
        pair.wait_for_standby()
        yield pair
    finally:
        for data in reversed(started):
            if (data / "postmaster.pid").exists():  # not a standby the test left stopped
                as_postgres(str(BIN / "pg_ctl"), "stop", "-m", "immediate", "-D", str(data))
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module", name="standby")
def module_standby(request: pytest.FixtureRequest) -> Iterator[StandbyPair]:
    """The fixture ``standby``: a pair for the test module, its database named after it."""
    with private_standby(request.module.__name__.rpartition(".")[2]) as pair:
        yield pair
