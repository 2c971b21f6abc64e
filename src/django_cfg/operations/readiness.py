"""Whether this process can serve: every primary answers as a primary; replicas may degrade it.

    report = readiness()          # GET /-/readyz answers report.http_status, report.body
    report.body == {"status": "degraded", "databases": {
        "default": {"role": "primary", "server_role": "primary", "reachable": True, ...},
        "replica": {"role": "replica of default", "reachable": False,
                    "problem": "unreachable: ... its reads go to default", ...}}}

- **503** ("unavailable"): a primary (a database that takes writes) does not answer within
  ``DJANGO_CFG_HEALTH_TIMEOUT``, or answers as a standby (writes would fail).
- **200 "degraded"**: a replica or a read-only database does not answer, a replica answers as
  a primary (promoted: no standby left), or a replica lags beyond its ``max_lag_bytes`` /
  ``max_lag_seconds``, or its replay is paused with WAL left to replay.
- **200 "ok"** otherwise.

Tenant databases opened at run time are not probed (their number is unbounded); list aliases
in ``DJANGO_CFG_HEALTH_DATABASES`` to probe fewer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connections

from django_cfg.operations.health import HealthOptions, ServerHealth, probe_databases
from django_cfg.runtime.runtime import DatabaseRuntime, current_runtime
from django_cfg.settings.tenant_names import tenant_database_of
from django_cfg.state.topology import DatabaseRole

__all__ = ["Readiness", "probed_aliases", "readiness"]

UNAVAILABLE, DEGRADED, OK = "unavailable", "degraded", "ok"


@dataclass(frozen=True)
class Readiness:
    status: str
    databases: dict[str, dict[str, Any]]

    @property
    def http_status(self) -> int:
        return 503 if self.status == UNAVAILABLE else 200

    @property
    def body(self) -> dict[str, Any]:
        return {"status": self.status, "databases": self.databases}


def probed_aliases(runtime: DatabaseRuntime, options: HealthOptions) -> tuple[str, ...]:
    """The aliases to probe: the setting's, else every configured database but tenants'."""
    if options.aliases is not None:
        return options.aliases
    return tuple(
        alias
        for alias in connections.settings
        if alias in runtime.topology.roles and tenant_database_of(alias) is None
    )


def readiness(options: HealthOptions | None = None) -> Readiness:
    """Probe the databases (within ``options.timeout``) and judge what was found."""
    options = options or HealthOptions.from_settings()
    runtime = current_runtime()
    found = probe_databases(probed_aliases(runtime, options), options)
    databases: dict[str, dict[str, Any]] = {}
    worst = OK
    for alias, health in found.items():
        role = runtime.topology.roles.get(alias) or DatabaseRole(alias)
        entry = describe(runtime, role, health, found)
        problem, severity = judge(role, health, entry)
        entry["problem"] = problem
        databases[alias] = entry
        if severity == UNAVAILABLE or (severity == DEGRADED and worst == OK):
            worst = severity
    return Readiness(worst, databases)


def describe(
    runtime: DatabaseRuntime,
    role: DatabaseRole,
    health: ServerHealth,
    found: dict[str, ServerHealth],
) -> dict[str, Any]:
    """What readyz shows of one alias: the probe's answer and this process's breaker and lag."""
    entry: dict[str, Any] = {
        "role": role.describe(),
        "reachable": health.reachable,
        "server_role": health.role,
        "server": health.server,
        "seconds": round(health.seconds, 4),
        "error": health.error,
    }
    monitor = runtime.monitor
    if monitor is not None:
        breaker = monitor.health.get(role.alias) or monitor.primary_health.get(role.alias)
        entry["breaker_open"] = breaker is not None and bool(breaker.failures)
    if role.replica_of is not None:
        primary = found.get(role.replica_of)
        lag_bytes = None
        if primary is not None and primary.wal_lsn is not None and health.wal_lsn is not None:
            lag_bytes = max(0, primary.wal_lsn - health.wal_lsn)
        known = monitor.health.get(role.alias) if monitor is not None else None
        entry["lag_bytes"] = lag_bytes
        entry["lag_seconds"] = known.lag_seconds if known is not None else None
        entry["replay_paused"] = health.replay_paused
    return entry


def judge(
    role: DatabaseRole, health: ServerHealth, entry: dict[str, Any]
) -> tuple[str | None, str]:
    """What is wrong with one alias, if anything, and how much it matters."""
    if not health.reachable:
        return _unreachable(role, health)
    if role.is_primary and health.in_recovery:
        return (
            f"{health.server} answers as a standby (in recovery): writes would fail; point "
            "the URL at the new primary (or list every node with target_session_attrs="
            "read-write)",
            UNAVAILABLE,
        )
    if role.replica_of is None:
        return None, OK
    if health.in_recovery is False:
        return f"is a primary now (promoted?): {role.replica_of} has no standby left", DEGRADED
    return _lag_problem(role, entry)


def _unreachable(role: DatabaseRole, health: ServerHealth) -> tuple[str, str]:
    if role.is_primary:
        return f"cannot answer: {health.error}", UNAVAILABLE
    if role.replica_of is not None:
        return f"unreachable: {health.error}; its reads go to {role.replica_of}", DEGRADED
    return f"unreachable: {health.error}", DEGRADED


def _lag_problem(role: DatabaseRole, entry: dict[str, Any]) -> tuple[str | None, str]:
    lag_bytes, lag_seconds = entry.get("lag_bytes"), entry.get("lag_seconds")
    if role.max_lag_bytes is not None and lag_bytes is not None and lag_bytes > role.max_lag_bytes:
        return f"lags {lag_bytes} bytes (max_lag_bytes={role.max_lag_bytes})", DEGRADED
    if (
        role.max_lag_seconds is not None
        and lag_seconds is not None
        and lag_seconds > role.max_lag_seconds
    ):
        return f"lags {lag_seconds:.1f} s (max_lag_seconds={role.max_lag_seconds})", DEGRADED
    if entry.get("replay_paused") and lag_bytes:
        return f"replay is paused with {lag_bytes} bytes to replay", DEGRADED
    return None, OK
