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

from django_cfg.runtime.runtime import current_runtime
from django_cfg.schema.state import pending_migrations
from django_cfg.settings.sqlite import names_a_file
from django_cfg.state.missing_database import explained
from django_cfg.state.own_connection import own_connection
from django_cfg.state.topology import Topology
from django_cfg.state.wal import replayed_position, written_position

__all__ = ["CONNECT_TIMEOUT_SECONDS", "DatabaseStatus", "database_statuses", "probe"]

CONNECT_TIMEOUT_SECONDS = 5

_PROBE = {"sqlite": "SELECT COUNT(*) FROM sqlite_master"}
"""The query that measures the round trip, per vendor (default ``SELECT 1``)."""


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
    """Why it is unhealthy: unreachable, or reachable but its migrations cannot be read."""
    latency_ms: float | None = None
    pending: list[str] | None = field(default=None)
    lag_bytes: int | None = None
    """Replicas (PostgreSQL): WAL bytes the replica has yet to replay."""
    lag_error: str | None = None
    """Replicas: why the lag is unknown (its primary cannot be asked); the replica's own state
    is in ``reachable``/``error``, never the primary's."""

    @property
    def healthy(self) -> bool:
        """Reachable, and nothing failed while looking at it (its lag aside)."""
        return self.reachable and self.error is None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "healthy": self.healthy}


def database_statuses(topology: Topology | None = None) -> list[DatabaseStatus]:
    """One probe per alias in DATABASES order."""
    topology = topology or current_runtime().topology
    return [probe(alias, topology) for alias in topology.aliases]


def probe(
    alias: str, topology: Topology, *, tenant_apps: list[str] | None = None
) -> DatabaseStatus:
    """``alias``'s status; ``tenant_apps``: it is a tenant's database (or a replica of one)
    holding those apps."""
    settings_dict = connections.settings[alias]
    role = topology.roles[alias]
    tenant = tenant_apps is not None and role.replica_of is None
    status = DatabaseStatus(
        alias=alias,
        engine=settings_dict["ENGINE"],
        host=settings_dict.get("HOST", ""),
        port=str(settings_dict.get("PORT", "")),
        name=str(settings_dict.get("NAME", "")),
        role="tenant" if tenant else role.describe(),
        apps=_apps_on(alias, topology) if tenant_apps is None else sorted(tenant_apps),
        is_primary=role.is_primary,
    )
    wrapper = own_connection(alias, CONNECT_TIMEOUT_SECONDS)
    try:
        _check_sqlite_file(wrapper)
        wrapper.ensure_connection()
        with wrapper.cursor() as cursor:
            started = time.perf_counter()
            # SQLite answers SELECT 1 without reading the file: a corrupt one must not pass.
            cursor.execute(_PROBE.get(wrapper.vendor, "SELECT 1"))
            cursor.fetchone()
            status.latency_ms = round((time.perf_counter() - started) * 1000, 3)
        status.reachable = True
        if topology.takes_migrations(alias) or tenant:
            status.pending = [f"{m.app_label}.{m.name}" for m in pending_migrations(wrapper)]
    except Exception as error:  # any driver error: report it, never raise
        status.error = _described(error, alias)
    else:
        if role.replica_of is not None and wrapper.vendor == "postgresql":
            _measure_lag(status, wrapper, role.replica_of)
    finally:
        wrapper.close()
    return status


def _measure_lag(status: DatabaseStatus, replica: Any, primary_alias: str) -> None:
    """Set ``lag_bytes``, or ``lag_error`` when the primary (or the replica) does not answer."""
    primary = own_connection(primary_alias, CONNECT_TIMEOUT_SECONDS)
    try:
        with primary.cursor() as cursor:
            written = written_position(cursor)
    except Exception as error:  # the primary's failure is not the replica's
        status.lag_error = f"primary {primary_alias!r}: {_described(error, primary_alias)}"
        return
    finally:
        primary.close()
    try:
        with replica.cursor() as cursor:
            replayed = replayed_position(cursor)
    except Exception as error:
        status.lag_error = _described(error, status.alias)
        return
    if written is not None and replayed is not None:
        status.lag_bytes = max(0, written - replayed)


def _described(error: Exception, alias: str) -> str:
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
