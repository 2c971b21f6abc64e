"""A PostgreSQL server of the test's own (initdb in a temporary directory, a free port), to
hang with SIGSTOP without touching the shared servers:

    with private_postgres() as server:
        with server.hung():            # SIGSTOP the postmaster and its children; SIGCONT after
            ...

    with private_postgres("max_connections=1100") as server:   # server settings (-c)
        ...
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.replica_tools import PG_VERSION

BIN = Path(f"/usr/lib/postgresql/{PG_VERSION}/bin")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def as_postgres(*command: str, timeout: float = 60) -> None:
    """Run ``command`` as the postgres user (PostgreSQL refuses to run as root); its stderr in
    the error if it fails."""
    done = subprocess.run(
        ["runuser", "-u", "postgres", "--", *command],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()[-2000:]}")


@dataclass
class PrivateServer:
    data: Path
    port: int

    def pids(self) -> list[int]:
        """The postmaster and its children."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    status = (entry / "status").read_text()
                    parent = next(x for x in status.splitlines() if x.startswith("PPid:"))
                    if int(parent.split()[1]) == postmaster:
                        children.append(int(entry.name))
        return [postmaster, *children]

    @contextmanager
    def hung(self) -> Iterator[None]:
        """The server accepts TCP connections (the kernel does) and never answers."""
        pids = self.pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):  # a backend that ended meanwhile
                os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)


@contextmanager
def private_postgres(*settings: str) -> Iterator[PrivateServer]:
    data = Path(tempfile.mkdtemp(prefix="django_cfg_private_pg_"))
    shutil.chown(data, "postgres", "postgres")
    server = PrivateServer(data / "data", free_port())
    try:
        as_postgres(
            str(BIN / "initdb"), "-D", str(server.data), "-A", "trust", "-U", "postgres", "-N"
        )
        options = f"-p {server.port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
        options += "".join(f" -c {setting}" for setting in settings)
        log = str(data / "log")
        as_postgres(
            str(BIN / "pg_ctl"), "start", "-w", "-D", str(server.data), "-o", options, "-l", log
        )
        yield server
    finally:
        with contextlib.suppress(Exception):
            for pid in server.pids():
                os.kill(pid, signal.SIGCONT)
        with contextlib.suppress(subprocess.SubprocessError):
            as_postgres(str(BIN / "pg_ctl"), "stop", "-m", "immediate", "-D", str(server.data))
        shutil.rmtree(data, ignore_errors=True)
