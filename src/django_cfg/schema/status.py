"""A live look at each configured database, for ``manage.py db_status``.

    for status in database_statuses(timeout=5):
        print(status.alias, status.role, status.server_role, status.reachable, status.lag_seconds)

Every server is probed in parallel on a connection of its own with a connect timeout, and the
whole look is bounded: a dead or hung server costs one timeout, however many there are, and the
project's connections are left alone. Each PostgreSQL server is asked what it is
(``pg_is_in_recovery()``), so a promoted replica or a demoted primary shows as such; each
server of a multi-host URL is asked on its own (``servers``). No password is ever part of a
status, including driver error messages.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from django.apps import apps
from django.db import connections

from django_cfg.runtime.runtime import current_runtime
from django_cfg.schema.replication_status import ServerStatus, compare_roles
from django_cfg.schema.state import pending_migrations
from django_cfg.settings.sqlite import names_a_file
from django_cfg.settings.url import server_list, shown_servers
from django_cfg.state.missing_database import explained
from django_cfg.state.own_connection import own_connection
from django_cfg.state.topology import Topology
from django_cfg.state.wal import server_facts

__all__ = [
    "CONNECT_TIMEOUT_SECONDS",
    "DatabaseStatus",
    "ServerStatus",
    "database_statuses",
    "probe",
    "probe_all",
]

CONNECT_TIMEOUT_SECONDS = 5
"""``db_status --timeout``'s default: seconds to connect to one server (the whole look takes
about twice that at most: connect, then the queries)."""

PARALLEL_PROBES = 32
"""Servers probed at once (every tenant database is one)."""

_PROBE = {"sqlite": "SELECT COUNT(*) FROM sqlite_master"}
"""The query that measures the round trip, per vendor (default ``SELECT 1``)."""

R = TypeVar("R")


@dataclass
class DatabaseStatus:
    alias: str
    engine: str
    host: str
    port: str
    name: str
    role: str
    """``DatabaseRole.describe()``: "primary", "replica of default", "read-only"..."""
    apps: list[str]
    is_primary: bool = False
    """``DatabaseRole.is_primary``: takes writes (an outage fails ``db_status``)."""
    reachable: bool = False
    """It answered a query that reads it (SQLite: its schema, so a corrupt file does not)."""
    error: str | None = None
    """Why it is unhealthy: unreachable, reachable but its migrations cannot be read, or a
    primary that the server says is a standby."""
    latency_ms: float | None = None
    pending: list[str] | None = field(default=None)
    server_role: str | None = None
    """PostgreSQL: what the server says it is, "primary" or "standby" (``pg_is_in_recovery()``)."""
    wal_position: int | None = None
    """PostgreSQL: the WAL position it has written (primary) or replayed (standby)."""
    replay_paused: bool | None = None
    """Standbys: replay is paused (``pg_is_wal_replay_paused()``): its data stays as it is."""
    lag_seconds: float | None = None
    """Standbys: how old its last replayed commit is while received WAL waits (0: caught up)."""
    lag_bytes: int | None = None
    """Replicas (PostgreSQL): WAL bytes the replica has yet to replay."""
    lag_error: str | None = None
    """Replicas: why the lag is unknown (its primary cannot be asked); the replica's own state
    is in ``reachable``/``error``, never the primary's."""
    problems: list[str] = field(default_factory=list)
    """What degrades it though it answers: a promoted replica, paused replay, lag beyond its
    bound, a server of its multi-host URL down."""
    servers: list[ServerStatus] = field(default_factory=list)
    """Multi-host URLs: each server on its own (its role, lag, error)."""

    @property
    def healthy(self) -> bool:
        """Reachable, and nothing failed while looking at it (its lag aside)."""
        return self.reachable and self.error is None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "healthy": self.healthy}


def database_statuses(
    topology: Topology | None = None, *, timeout: float = CONNECT_TIMEOUT_SECONDS
) -> list[DatabaseStatus]:
    """One status per alias in DATABASES order, probed in parallel, roles compared."""
    topology = topology or current_runtime().topology
    return probe_all([(alias, None) for alias in topology.aliases], topology, timeout=timeout)


def probe_all(
    targets: Sequence[tuple[str, list[str] | None]],
    topology: Topology,
    *,
    timeout: float = CONNECT_TIMEOUT_SECONDS,
) -> list[DatabaseStatus]:
    """The status of each ``(alias, tenant_apps)``, probed in parallel (at most about twice
    ``timeout`` per batch of ``PARALLEL_PROBES``), then compared: lag, promoted replicas."""
    jobs: list[Callable[[], DatabaseStatus]] = []
    for alias, tenant_apps in targets:
        jobs.append(_probe_job(alias, topology, tenant_apps, timeout))
    statuses = [
        status if status is not None else _silent(alias, topology, tenant_apps, timeout)
        for (alias, tenant_apps), status in zip(
            targets, run_bounded(jobs, 2 * timeout + 1), strict=True
        )
    ]
    _probe_servers(statuses, timeout)
    compare_roles(statuses, topology)
    return statuses


def _probe_job(
    alias: str, topology: Topology, tenant_apps: list[str] | None, timeout: float
) -> Callable[[], DatabaseStatus]:
    return lambda: probe(alias, topology, tenant_apps=tenant_apps, timeout=timeout)


def _silent(
    alias: str, topology: Topology, tenant_apps: list[str] | None, timeout: float
) -> DatabaseStatus:
    """The status of a server that accepted the connection and never answered (hung)."""
    status = _blank(alias, topology, tenant_apps)
    status.error = (
        f"no answer within {2 * timeout + 1:.0f} s (the server accepts connections but does "
        "not answer: hung or overloaded)"
    )
    return status


def run_bounded(jobs: Sequence[Callable[[], R]], seconds: float) -> list[R | None]:
    """Each job's result, run ``PARALLEL_PROBES`` at a time in daemon threads (each in a copy
    of this context); None for a job still running ``seconds`` after it started (left behind:
    a hung server must not hold the caller)."""
    results: list[R | None] = [None] * len(jobs)
    running: list[tuple[threading.Thread, float]] = []

    def run(index: int) -> None:
        results[index] = jobs[index]()

    for index in range(len(jobs)):
        if len(running) >= PARALLEL_PROBES:
            _wait_for_oldest(running)
        context = contextvars.copy_context()
        thread = threading.Thread(
            target=context.run, args=(run, index), name="django_cfg db_status", daemon=True
        )
        thread.start()
        running.append((thread, time.monotonic() + seconds))
    while running:
        _wait_for_oldest(running)
    return results


def _wait_for_oldest(running: list[tuple[threading.Thread, float]]) -> None:
    thread, deadline = running.pop(0)
    thread.join(max(0.0, deadline - time.monotonic()))


def _blank(alias: str, topology: Topology, tenant_apps: list[str] | None) -> DatabaseStatus:
    settings_dict = connections.settings[alias]
    role = topology.roles[alias]
    tenant = tenant_apps is not None and role.replica_of is None
    return DatabaseStatus(
        alias=alias,
        engine=settings_dict["ENGINE"],
        host=settings_dict.get("HOST", ""),
        port=str(settings_dict.get("PORT", "")),
        name=str(settings_dict.get("NAME", "")),
        role="tenant" if tenant else role.describe(),
        apps=_apps_on(alias, topology) if tenant_apps is None else sorted(tenant_apps),
        is_primary=role.is_primary,
    )


def probe(
    alias: str,
    topology: Topology,
    *,
    tenant_apps: list[str] | None = None,
    timeout: float = CONNECT_TIMEOUT_SECONDS,
) -> DatabaseStatus:
    """``alias``'s status as its own server tells it (its lag needs its primary's position:
    ``probe_all``); ``tenant_apps``: it is a tenant's database (or a replica of one) holding
    those apps."""
    status = _blank(alias, topology, tenant_apps)
    wrapper = own_connection(alias, round(timeout))
    try:
        _check_sqlite_file(wrapper)
        wrapper.ensure_connection()
        with wrapper.cursor() as cursor:
            started = time.perf_counter()
            # SQLite answers SELECT 1 without reading the file: a corrupt one must not pass.
            cursor.execute(_PROBE.get(wrapper.vendor, "SELECT 1"))
            cursor.fetchone()
            status.latency_ms = round((time.perf_counter() - started) * 1000, 3)
            if wrapper.vendor == "postgresql":
                _read_facts(status, server_facts(cursor))
        status.reachable = True
        if topology.takes_migrations(alias) or status.role == "tenant":
            status.pending = [f"{m.app_label}.{m.name}" for m in pending_migrations(wrapper)]
    except Exception as error:  # any driver error: report it, never raise
        status.error = described(error, alias)
    finally:
        wrapper.close()
    return status


def _read_facts(status: DatabaseStatus, facts: Any) -> None:
    status.server_role = "standby" if facts.in_recovery else "primary"
    status.wal_position = facts.position
    status.replay_paused = facts.replay_paused
    status.lag_seconds = facts.lag_seconds


def _probe_servers(statuses: list[DatabaseStatus], timeout: float) -> None:
    """Each server of a multi-host URL on its own, all in parallel."""
    jobs: list[Callable[[], ServerStatus]] = []
    owners: list[tuple[DatabaseStatus, str]] = []
    for status in statuses:
        servers = server_list(status.host, status.port or None) if status.host else []
        if len(servers) < 2 or "postgresql" not in status.engine:
            continue
        for host, port in servers:
            jobs.append(_server_job(status.alias, (host, port), timeout))
            owners.append((status, shown_servers(host, port)))
    answers = run_bounded(jobs, 2 * timeout + 1)
    for (status, address), answer in zip(owners, answers, strict=True):
        status.servers.append(
            answer or ServerStatus(address=address, error=f"no answer within {2 * timeout + 1:g} s")
        )


def _server_job(
    alias: str, server: tuple[str, int | None], timeout: float
) -> Callable[[], ServerStatus]:
    def job() -> ServerStatus:
        node = ServerStatus(address=shown_servers(server[0], server[1]))
        wrapper = own_connection(alias, round(timeout), server=server)
        try:
            with wrapper.cursor() as cursor:
                facts = server_facts(cursor)
            node.reachable = True
            node.server_role = "standby" if facts.in_recovery else "primary"
            node.wal_position = facts.position
            node.replay_paused = facts.replay_paused
            node.lag_seconds = facts.lag_seconds
        except Exception as error:  # any driver error: report it, never raise
            node.error = described(error, alias)
        finally:
            wrapper.close()
        return node

    return job


def described(error: Exception, alias: str) -> str:
    """``OperationalError: ...`` on one line (with the fix for a missing database), without
    the password of ``alias``."""
    message = explained(error, connections.settings[alias])
    password = connections.settings[alias].get("PASSWORD") or ""
    return message.replace(password, "***") if password else message


def _apps_on(alias: str, topology: Topology) -> list[str]:
    """Labels of the installed apps with models whose home is ``alias`` (or its primary)."""
    home = topology.primary_of(alias)
    return sorted(
        config.label
        for config in apps.get_app_configs()
        if topology.home(config.label) == home and next(iter(config.get_models()), None)
    )


def _check_sqlite_file(wrapper: Any) -> None:
    """SQLite creates a missing file on connect; a status must not, so report it instead."""
    if wrapper.vendor != "sqlite":
        return
    name = str(wrapper.settings_dict["NAME"])
    if not names_a_file(name):
        return
    if not Path(name).exists():
        raise FileNotFoundError(f"{name} does not exist yet (run manage.py migrate_all)")
