"""System checks of the routing rules: each names a configured database and an installed app.

django_cfg.E001  a routing rule names an alias that is not in DATABASES
django_cfg.E002  a routing rule names an app that is not installed (``django_cache``, the
                 label of Django's DatabaseCache, is accepted when CACHES uses it)
django_cfg.E003  one app is routed to two databases
django_cfg.E004  a routing rule targets a replica
django_cfg.W005  a routing rule targets a read-only database
django_cfg.W010  routing rules are set but the package's router is not installed
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from django_cfg.runtime.runtime import current_runtime
from django_cfg.schema.cache_tables import CACHE_APP_LABEL, database_caches_configured
from django_cfg.settings.routers import ROUTER_PATH, router_installed
from django_cfg.state.topology import DatabaseRole, Topology


def _routing_in_use() -> bool:
    return router_installed(settings.DATABASE_ROUTERS)


def check_routing_rules(**_: Any) -> list[CheckMessage]:
    topology = current_runtime().topology
    messages: list[CheckMessage] = []
    if topology.rules and not _routing_in_use():
        messages.append(
            Warning(
                "DATABASE_ROUTING_RULES is set but django_cfg's router is not in "
                "DATABASE_ROUTERS, so no rule is applied.",
                hint=f"Add {ROUTER_PATH!r} to DATABASE_ROUTERS (DjangoConfig does this for "
                "projects with more than one database).",
                id="django_cfg.W010",
            )
        )
    labels = {config.label for config in apps.get_app_configs()}
    for rule in topology.rules:
        messages += _check_rule(rule.app, rule.label, rule.alias, rule.source, topology, labels)
    for first, second in topology.conflicts:
        messages.append(
            Error(
                f"App {first.label!r} is routed to two databases: {first.alias!r} by "
                f"{first.source} and {second.alias!r} by {second.source}.",
                hint="An app has one home database; remove one of the two rules.",
                id="django_cfg.E003",
            )
        )
    return messages


def _check_rule(
    app: str, label: str, alias: str, source: str, topology: Topology, labels: set[str]
) -> list[CheckMessage]:
    where = f"{source}: {app!r} -> {alias!r}"
    role = topology.roles.get(alias)
    if role is None:
        return [
            Error(
                f"{where} names database {alias!r}, which is not in DATABASES.",
                hint=f"Configure databases[{alias!r}] or route {label!r} to one of: "
                f"{', '.join(topology.aliases)}.",
                id="django_cfg.E001",
            )
        ]
    return _app_label_errors(where, label, labels) + _unfit_database_messages(where, label, role)


def _app_label_errors(where: str, label: str, labels: set[str]) -> list[CheckMessage]:
    """E002: the rule's app is not installed (or is the database cache, with no such cache)."""
    if label == CACHE_APP_LABEL and not database_caches_configured():
        # Django's DatabaseCache model has this label: routable, though no app is installed.
        return [
            Error(
                f"{where} routes Django's database cache ({CACHE_APP_LABEL!r}), but no cache in "
                "CACHES uses django.core.cache.backends.db.DatabaseCache.",
                hint="Configure CACHES with that backend, or remove the rule.",
                id="django_cfg.E002",
            )
        ]
    if label not in labels and label != CACHE_APP_LABEL:
        return [
            Error(
                f"{where} names app {label!r}, which is not an installed app label.",
                hint="Rules use app labels (AppConfig.label, e.g. 'blog' for 'apps.blog'); "
                f"installed: {', '.join(sorted(labels))}.",
                id="django_cfg.E002",
            )
        ]
    return []


def _unfit_database_messages(where: str, label: str, role: DatabaseRole) -> list[CheckMessage]:
    """E004 for a rule to a replica, W005 for one to a read-only database."""
    if role.replica_of is not None:
        return [
            Error(
                f"{where} routes {label!r} to a replica of {role.replica_of!r}; its writes and "
                "migrations would go to a database that cannot take them.",
                hint=f"Route {label!r} to {role.replica_of!r}: reads use its replicas anyway.",
                id="django_cfg.E004",
            )
        ]
    if role.read_only:
        return [
            Warning(
                f"{where} routes {label!r} to a read-only database: reads work, every write "
                "fails and its tables are never migrated there.",
                hint="Fine for unmanaged models over a warehouse (silence django_cfg.W005); "
                "otherwise route the app to a primary.",
                id="django_cfg.W005",
            )
        ]
    return []
