"""A live look at each configured database, for ``manage.py db_status``.

    for status in database_statuses():
        print(status.alias, status.role, status.reachable, status.latency_ms, status.pending)

Every probe uses its own short-lived connection with a connect timeout, so a dead server costs
seconds, not minutes, and the project's connections are left alone. No password is ever part of
a status, including driver error messages.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.apps import apps
from django.db import connections

from django_cfg.replicas.own_connection import own_connection
from django_cfg.replicas.wal import replayed_position, written_position
from django_cfg.routing.topology import Topology, get_topology
from django_cfg.schema.state import pending_migrations

__all__ = ["CONNECT_TIMEOUT_SECONDS", "DatabaseStatus", "database_statuses", "probe"]

CONNECT_TIMEOUT_SECONDS = 5


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
    error: str | None = None
    latency_ms: float | None = None
    pending: list[str] | None = field(default=None)
    lag_bytes: int | None = None
    """Replicas (PostgreSQL): WAL bytes the replica has yet to replay."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def database_statuses(topology: Topology | None = None) -> list[DatabaseStatus]:
    """One probe per alias in DATABASES order."""
    topology = topology or get_topology()
    return [probe(alias, topology) for alias in topology.aliases]


def probe(alias: str, topology: Topology) -> DatabaseStatus:
    settings_dict = connections.settings[alias]
    role = topology.roles[alias]
    status = DatabaseStatus(
        alias=alias,
        engine=settings_dict["ENGINE"],
        host=settings_dict.get("HOST", ""),
        port=str(settings_dict.get("PORT", "")),
        name=str(settings_dict.get("NAME", "")),
        role=role.describe(),
        apps=_apps_on(alias, topology),
        is_primary=role.is_primary,
    )
    password = settings_dict.get("PASSWORD") or ""
    wrapper = own_connection(alias, CONNECT_TIMEOUT_SECONDS)
    try:
        _check_sqlite_file(wrapper)
        wrapper.ensure_connection()
        with wrapper.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute("SELECT 1")
            cursor.fetchone()
            status.latency_ms = round((time.perf_counter() - started) * 1000, 3)
        status.reachable = True
        if topology.takes_migrations(alias):
            status.pending = [f"{m.app_label}.{m.name}" for m in pending_migrations(wrapper)]
        if role.replica_of is not None and wrapper.vendor == "postgresql":
            status.lag_bytes = _replica_lag_bytes(wrapper, role.replica_of)
    except Exception as error:  # any driver error: report it, never raise
        message = " ".join(f"{type(error).__name__}: {error}".split())
        status.error = message.replace(password, "***") if password else message
    finally:
        wrapper.close()
    return status


def _replica_lag_bytes(replica: Any, primary_alias: str) -> int | None:
    primary = own_connection(primary_alias, CONNECT_TIMEOUT_SECONDS)
    try:
        with primary.cursor() as cursor:
            written = written_position(cursor)
    finally:
        primary.close()
    with replica.cursor() as cursor:
        replayed = replayed_position(cursor)
    return max(0, written - replayed) if written is not None and replayed is not None else None


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
    if name == ":memory:" or name.startswith("file:") or "mode=memory" in name:
        return
    if not Path(name).exists():
        raise FileNotFoundError(f"{name} does not exist yet (run manage.py migrate_all)")
