"""A private PostgreSQL primary + hot standby of a test's own, on free ports, to hang (SIGSTOP),
promote or stop without touching the shared 5432/5433 (/work/shared/notes/real-databases.md).

    with private_pair() as pair:
        with pair.primary.hung():          # SIGSTOP the postmaster and its children
            ...
        pair.standby.promote()

Built in ~2 s with initdb (fsync off) and pg_basebackup -R; everything runs as the postgres
user; the directory is removed and the servers stopped (after a SIGCONT) on the way out.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.support.private_postgres import BIN, as_postgres, free_port


@dataclass
class PrivateServer:
    """One PostgreSQL server of the pair: its port and data directory."""

    port: int
    data: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            dbname=database,
            autocommit=True,
            connect_timeout=5,
        )

    def start(self) -> None:
        as_postgres(
            str(BIN / "pg_ctl"), "start", "-w", "-t", "30", "-D", str(self.data),
            "-l", str(self.data / "server.log"),
        )  # fmt: skip

    def stop(self) -> None:
        self.resume()
        if (self.data / "postmaster.pid").exists():
            as_postgres(str(BIN / "pg_ctl"), "stop", "-w", "-m", "immediate", "-D", str(self.data))

    def promote(self) -> None:
        as_postgres(str(BIN / "pg_ctl"), "promote", "-w", "-D", str(self.data))

    def pids(self) -> list[int]:
        """The postmaster and its children (backends, walsender/receiver, background workers)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                children.append(int(entry.name))
        return [postmaster, *children]

    def suspend(self) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):  # a backend that just exited
                os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        if not (self.data / "postmaster.pid").exists():
            return
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    @contextmanager
    def down(self) -> Iterator[None]:
        """The server crashed (``pg_ctl stop -m immediate``), started again after the block."""
        as_postgres(str(BIN / "pg_ctl"), "stop", "-w", "-m", "immediate", "-D", str(self.data))
        try:
            yield
        finally:
            self.start()

    @contextmanager
    def hung(self) -> Iterator[None]:
        """The server accepts TCP (the kernel does) and never answers, until the block ends."""
        self.suspend()
        try:
            yield
        finally:
            self.resume()


@dataclass
class PrivatePair:
    primary: PrivateServer
    standby: PrivateServer

    def wait_for_standby(self, timeout: float = 30) -> None:
        """Until the standby has replayed all the primary has written so far."""
        with self.primary.connect() as primary:
            target = primary.execute("SELECT pg_current_wal_lsn()").fetchone()
        deadline = time.monotonic() + timeout
        with self.standby.connect() as standby:
            while True:
                row = standby.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target[0] if target else None]
                ).fetchone()
                if row and row[0]:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the private standby did not catch up in {timeout} s")
                time.sleep(0.01)


def _build_primary(root: Path) -> PrivateServer:
    server = PrivateServer(free_port(), root / "primary")
    as_postgres(
        str(BIN / "initdb"), "-D", str(server.data), "-U", "postgres", "--auth=trust", "-N",
    )  # fmt: skip
    with (server.data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"port = {server.port}\nlisten_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{root}'\nfsync = off\nmax_connections = 40\n"
            "shared_buffers = 16MB\n"
        )
    server.start()
    return server


def _build_standby(root: Path, primary: PrivateServer) -> PrivateServer:
    standby = PrivateServer(free_port(), root / "standby")
    as_postgres(
        str(BIN / "pg_basebackup"), "-D", str(standby.data), "-R", "-X", "stream", "-c", "fast",
        "-d", f"host=127.0.0.1 port={primary.port} user=postgres",
    )  # fmt: skip
    with (standby.data / "postgresql.conf").open("a") as conf:
        conf.write(f"port = {standby.port}\n")
    standby.start()
    return standby


@contextmanager
def private_pair() -> Iterator[PrivatePair]:
    """A primary and its streaming standby, stopped and deleted after the block."""
    root = Path(tempfile.mkdtemp(prefix="django_cfg_pair_"))
    shutil.chown(root, "postgres", "postgres")
    servers: list[PrivateServer] = []
    try:
        servers.append(_build_primary(root))
        servers.append(_build_standby(root, servers[0]))
        pair = PrivatePair(*servers)
        pair.wait_for_standby()
        yield pair
    finally:
        for server in reversed(servers):
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
