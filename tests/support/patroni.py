"""The Patroni cluster of scripts/patroni.sh: its members through Patroni's REST API, whether it
is healthy (a leader and a synchronous standby), and killing a member's PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
import urllib.request
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

PATRONI_URL = os.environ.get(
    "DJANGO_CFG_TEST_PATRONI_URL",
    "postgresql://postgres@127.0.0.1:5441,127.0.0.1:5442/django_cfg_failover"
    "?target_session_attrs=read-write",
)
"""The app's URL: every node of the cluster, the writable one chosen by libpq."""

PATRONI_REST = os.environ.get("DJANGO_CFG_TEST_PATRONI_REST", "127.0.0.1:8008,127.0.0.1:8009")
"""Patroni's REST API of each node (``host:port``, comma-separated)."""

LEADER_ROLES = {"master", "primary"}  # Patroni 3.0 reports "master", later versions "primary"


@dataclass(frozen=True)
class Member:
    """One node of the cluster as ``GET /cluster`` lists it."""

    name: str
    role: str
    state: str
    host: str
    port: int
    api_url: str  # http://host:port/patroni

    @property
    def dsn(self) -> str:
        return f"host={self.host} port={self.port} user=postgres dbname=postgres connect_timeout=2"


def rest(address: str, path: str, timeout: float = 2) -> Any:
    """The JSON answer of Patroni's REST API at ``address`` (``host:port``) for ``path``."""
    with urllib.request.urlopen(f"http://{address}{path}", timeout=timeout) as answer:
        return json.load(answer)


def members() -> list[Member]:
    """The cluster's members, from the first node whose REST API answers."""
    errors = []
    for address in PATRONI_REST.split(","):
        try:
            listed = rest(address, "/cluster")["members"]
        except (OSError, ValueError, KeyError) as error:
            errors.append(f"{address}: {error}")
            continue
        fields = ("name", "role", "state", "host", "port", "api_url")
        return [Member(**{field: member[field] for field in fields}) for member in listed]
    raise OSError(f"no Patroni REST API answers ({'; '.join(errors)}); run scripts/patroni.sh")


def node_role(member: Member) -> str | None:
    """``member``'s role as its own Patroni reports it (``GET /patroni``), None if it is down."""
    try:
        answer = rest(member.api_url.removeprefix("http://").removesuffix("/patroni"), "/patroni")
    except (OSError, ValueError):
        return None
    return str(answer["role"]) if answer.get("state") == "running" else None


def unhealthy_reason() -> str | None:
    """Why the cluster is not a running leader with a running synchronous standby, or None."""
    try:
        listed = members()
    except OSError as error:
        return str(error)
    roles = sorted(m.role for m in listed if m.state in {"running", "streaming"})
    if roles != ["leader", "sync_standby"]:
        seen = ", ".join(f"{m.name} {m.role} {m.state}" for m in listed) or "no members"
        return (
            f"the Patroni cluster is not a leader + sync standby ({seen}); run scripts/patroni.sh"
        )
    return None


@cache
def patroni_missing() -> str | None:
    """For the ``patroni`` marker: why the cluster cannot serve the failover test, or None.

    A cluster that answers but is not healthy yet (a standby still catching up after a restart)
    is given up to 60 s; one whose REST API does not answer is missing at once.
    """
    deadline = time.monotonic() + 60
    while (reason := unhealthy_reason()) is not None and time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            members()
            time.sleep(0.5)
            continue
        break
    return reason


def wait_until_healthy(seconds: float) -> None:
    """Wait (polling every 0.2 s) until the cluster is healthy; fail with its state after."""
    deadline = time.monotonic() + seconds
    while (reason := unhealthy_reason()) is not None:
        if time.monotonic() > deadline:
            raise AssertionError(f"after {seconds:.0f} s: {reason}")
        time.sleep(0.2)


def kill_postgres(member: Member) -> int:
    """SIGKILL ``member``'s postmaster and its children (a crash, no shutdown); its pid."""
    import psycopg

    with psycopg.connect(member.dsn, autocommit=True) as connection:
        row = connection.execute("SHOW data_directory").fetchone()
    assert row is not None
    postmaster = int((Path(row[0]) / "postmaster.pid").read_text().split()[0])
    children = [pid for pid in _pids() if _parent(pid) == postmaster]
    for pid in (postmaster, *children):
        with contextlib.suppress(ProcessLookupError):  # a child that exited meanwhile
            os.kill(pid, signal.SIGKILL)
    return postmaster


def _pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _parent(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("PPid:"))
