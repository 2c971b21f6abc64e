"""Bounded probes of the configured databases: who answers, as what, within a deadline.

    # settings.py (the defaults)
    DJANGO_CFG_HEALTH_TIMEOUT = 1.0     # readyz and a scrape answer within this many seconds
    DJANGO_CFG_HEALTH_MAX_AGE = 1.0     # a probe's answer is reused for this long
    DJANGO_CFG_HEALTH_DATABASES = None  # the aliases to probe (None: every configured one)

    found = probe_databases(["default", "replica"], HealthOptions.from_settings())
    found["default"].reachable, found["default"].role    # True, "primary"

Each probe opens a connection of its own (``own_connection``: never a pool, never a replica's
failover to its primary) in a thread, asks PostgreSQL ``pg_is_in_recovery()`` and its WAL
position, and closes it. The caller waits for the answers until the deadline and no longer: a
hung server (accepted TCP, no answer) is reported as "no answer within 1.0 s" while its probe
thread waits out the connect timeout in the background. At most one probe per alias is in
flight, so a probe every second against a hung server never piles up threads.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from django_cfg.runtime.process_state import ProcessState
from django_cfg.runtime.runtime import current_runtime
from django_cfg.state.own_connection import own_connection
from django_cfg.state.wal import parse_lsn

__all__ = ["HealthOptions", "ServerHealth", "probe_databases"]

_STATE_SQL = (
    "SELECT pg_is_in_recovery(), "
    "(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
    "ELSE pg_current_wal_lsn() END)::text, "
    "CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END"
)


@dataclass(frozen=True)
class HealthOptions:
    """The probe settings (module docstring)."""

    timeout: float = 1.0
    max_age: float = 1.0
    aliases: tuple[str, ...] | None = None

    @classmethod
    def from_settings(cls) -> HealthOptions:
        aliases = getattr(settings, "DJANGO_CFG_HEALTH_DATABASES", None)
        return cls(
            timeout=float(getattr(settings, "DJANGO_CFG_HEALTH_TIMEOUT", 1.0)),
            max_age=float(getattr(settings, "DJANGO_CFG_HEALTH_MAX_AGE", 1.0)),
            aliases=tuple(aliases) if aliases is not None else None,
        )


@dataclass(frozen=True)
class ServerHealth:
    """What one probe of one alias found."""

    alias: str
    reachable: bool
    seconds: float
    """How long the probe took (up to the deadline when it did not answer)."""
    checked_at: float
    """``time.monotonic()`` when the answer came (or the deadline passed)."""
    error: str | None = None
    in_recovery: bool | None = None
    """PostgreSQL: True on a standby, False on a primary; None on other engines."""
    server: str | None = None
    """``host:port`` that answered (the writable one of a multi-host URL)."""
    wal_lsn: int | None = None
    """A primary's current WAL position, a standby's replayed one."""
    replay_paused: bool | None = None

    @property
    def role(self) -> str | None:
        """The server's own answer: "primary", "replica" (in recovery), None if unknown."""
        if self.in_recovery is None:
            return None
        return "replica" if self.in_recovery else "primary"


def probe_databases(aliases: tuple[str, ...], options: HealthOptions) -> dict[str, ServerHealth]:
    """``{alias: ServerHealth}`` for ``aliases``, answered within ``options.timeout``."""
    state = current_runtime().state
    deadline = time.monotonic() + options.timeout
    waiting: dict[str, tuple[float, threading.Event]] = {}
    with state.health_lock:
        for alias in aliases:
            last = state.health_results.get(alias)
            if last is not None and time.monotonic() - last.checked_at < options.max_age:
                continue
            if alias not in state.health_in_flight:
                state.health_in_flight[alias] = (time.monotonic(), threading.Event())
                threading.Thread(
                    target=_probe,
                    args=(state, alias, max(1, math.ceil(options.timeout))),
                    name=f"django_cfg health {alias}",
                    daemon=True,
                ).start()
            waiting[alias] = state.health_in_flight[alias]
    for _, answered in waiting.values():
        answered.wait(max(0.0, deadline - time.monotonic()))
    with state.health_lock:
        return {
            alias: state.health_results[alias]
            if alias not in waiting or waiting[alias][1].is_set()
            else _no_answer(alias, since=waiting[alias][0], timeout=options.timeout)
            for alias in aliases
        }


def _no_answer(alias: str, since: float, timeout: float) -> ServerHealth:
    now = time.monotonic()
    return ServerHealth(
        alias,
        reachable=False,
        seconds=now - since,
        checked_at=now,
        error=f"no answer within {timeout:.1f} s (the server hangs, or the network drops "
        f"packets); still waiting after {now - since:.1f} s",
    )


def _probe(state: ProcessState, alias: str, connect_timeout: int) -> None:
    started = time.monotonic()
    try:
        found = _ask(alias, connect_timeout)
        health = ServerHealth(alias, True, time.monotonic() - started, time.monotonic(), **found)
    except Exception as error:  # any failure to answer is the answer
        message = " ".join(f"{type(error).__name__}: {error}".split())
        health = ServerHealth(alias, False, time.monotonic() - started, time.monotonic(), message)
    with state.health_lock:
        state.health_results[alias] = health
        _, answered = state.health_in_flight.pop(alias)
    answered.set()


def _ask(alias: str, connect_timeout: int) -> dict[str, Any]:
    """The server's state on a connection of the probe's own (closed before returning)."""
    probe = own_connection(alias, connect_timeout)
    try:
        probe.ensure_connection()
        with probe.cursor() as cursor:
            if probe.vendor != "postgresql":
                cursor.execute("SELECT 1")
                return {}
            cursor.execute(_STATE_SQL)
            in_recovery, lsn, paused = cursor.fetchone()
        info = getattr(probe.connection, "info", None)  # psycopg 3: where libpq connected
        return {
            "in_recovery": bool(in_recovery),
            "server": f"{info.host}:{info.port}" if info is not None else None,
            "wal_lsn": parse_lsn(lsn) if lsn else None,
            "replay_paused": paused,
        }
    finally:
        probe.close()
