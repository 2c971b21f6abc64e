"""System checks of replicas and copies: their primaries, lag bounds and names.

django_cfg.E007  a replica's primary, or a copy's original primary, is not configured
django_cfg.W023  (check --deploy) a PostgreSQL replica has no lag bound
django_cfg.W040  an alias named like a replica (``replica``, ``<x>_replica``) has no role
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from django_cfg.checks.routing import _routing_in_use
from django_cfg.runtime.runtime import current_runtime
from django_cfg.settings.replica_names import implied_primaries, primary_by_name
from django_cfg.settings.url import base_engine, engine_family
from django_cfg.state.topology import Topology


def check_replicas(**_: Any) -> list[CheckMessage]:
    topology = current_runtime().topology
    messages: list[CheckMessage] = [
        Error(
            f"Database {role.alias!r} is a replica of {role.replica_of!r}, which is not in "
            "DATABASES.",
            hint=f"Configure databases[{role.replica_of!r}] or fix replica_of of "
            f"{role.alias!r}; configured: {', '.join(topology.aliases)}.",
            id="django_cfg.E007",
        )
        for role in topology.roles.values()
        if role.replica_of is not None and role.replica_of not in topology.roles
    ]
    return messages + [
        Error(
            f"Database {role.alias!r} is a copy of {role.copy_of!r}, which is not a primary in "
            "DATABASES (a copy needs a database that takes migrations: not a replica, not "
            "another copy).",
            hint=f"Fix copy_of of {role.alias!r}; configured: {', '.join(topology.aliases)}.",
            id="django_cfg.E007",
        )
        for role in topology.roles.values()
        if role.copy_of is not None
        and not (
            role.copy_of in topology.roles
            and role.copy_of != role.alias
            and topology.roles[role.copy_of].copy_of is None
            and topology.roles[role.copy_of].replica_of is None
        )
    ]


def check_replica_lag_bounds(**_: Any) -> list[CheckMessage]:
    topology = current_runtime().topology
    return [
        Warning(
            f"Replica {role.alias!r} of {role.replica_of!r} has no lag bound: reads keep going "
            "to it however far behind it falls (read-your-writes pins only the writer's own "
            "reads).",
            hint="Set max_lag_seconds (DatabaseConfig.from_url(url, max_lag_seconds=5)) or "
            "max_lag_bytes: a replica further behind is skipped. See docs/replicas.md.",
            id="django_cfg.W023",
        )
        for role in topology.roles.values()
        if role.replica_of is not None
        and role.max_lag_seconds is None
        and role.max_lag_bytes is None
        and engine_family(base_engine(_engine_of(role.alias))) == "postgresql"
    ]


def _engine_of(alias: str) -> str:
    return str(settings.DATABASES.get(alias, {}).get("ENGINE", ""))


def check_replica_names(**_: Any) -> list[CheckMessage]:
    """Aliases named like a replica that nothing declares a replica (hand-written settings)."""
    if not _routing_in_use():
        return []
    return replica_name_warnings(
        current_runtime().topology, getattr(settings, "DATABASE_ROLES", {}) or {}
    )


def replica_name_warnings(topology: Topology, declared: dict[str, Any]) -> list[CheckMessage]:
    """W040 for each alias of ``topology`` named like a replica with no role in ``declared``."""
    messages: list[CheckMessage] = []
    for alias in topology.aliases:
        role = declared.get(alias, {})
        names = implied_primaries(alias)
        if not names or "replica_of" in role or role.get("read_only") or topology.apps_on(alias):
            continue
        primary = primary_by_name(alias, topology.aliases)
        if primary is None:
            problem = f"its primary {names[0]!r} is not in DATABASES"
            declare = "replica_of='<primary alias>'"
        else:
            problem = "nothing declares it a replica"
            declare = f"replica_of={primary!r}"
        messages.append(
            Warning(
                f"Database {alias!r} is named like a read replica, but {problem}: it is used as "
                "an independent primary, so no reads go to it and Django's test runner would "
                "create a test database on it.",
                hint=f"Declare its role: DatabaseConfig.from_url(url, {declare}) (or "
                f"DATABASE_ROLES = {{{alias!r}: {{'replica_of': ...}}}} in settings written by "
                "hand). To keep it an independent primary, say so with replica_of=None "
                f"(DATABASE_ROLES[{alias!r}] = {{'replica_of': None}}).",
                id="django_cfg.W040",
            )
        )
    return messages
