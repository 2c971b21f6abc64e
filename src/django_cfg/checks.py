"""System checks for every database misconfiguration visible at startup (``manage.py check``).

    django_cfg.E001  a routing rule names an alias that is not in DATABASES
    django_cfg.E002  a routing rule names an app that is not installed (``django_cache``, the
                     label of Django's DatabaseCache, is accepted when CACHES uses it)
    django_cfg.E003  one app is routed to two databases
    django_cfg.E004  a routing rule targets a replica
    django_cfg.W005  a routing rule targets a read-only database
    django_cfg.E006  a migration gives a cross-database ForeignKey a database constraint
    django_cfg.E007  a replica's primary is not configured
    django_cfg.E008  a ManyToManyField or parent link crosses databases (always needs a JOIN)
    django_cfg.E009  a ForeignKey crosses databases but DATABASE_CROSS_RELATIONS is False
    django_cfg.W010  routing rules are set but the package's router is not installed

Silence one with ``SILENCED_SYSTEM_CHECKS = ["django_cfg.W005"]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from .databases.cache_tables import CACHE_APP_LABEL, database_caches_configured
from .databases.relations import cross_database_relations, joined_cross_database_relations
from .databases.topology import ROUTER_PATH, Topology, get_topology, router_installed

TAG = "django_cfg"


def _routing_in_use() -> bool:
    return router_installed(settings.DATABASE_ROUTERS)


@register(TAG)
def check_routing_rules(**_: Any) -> list[CheckMessage]:
    topology = get_topology()
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
    messages: list[CheckMessage] = []
    if label == CACHE_APP_LABEL and not database_caches_configured():
        # Django's DatabaseCache model has this label: routable, though no app is installed.
        messages.append(
            Error(
                f"{where} routes Django's database cache ({CACHE_APP_LABEL!r}), but no cache in "
                "CACHES uses django.core.cache.backends.db.DatabaseCache.",
                hint="Configure CACHES with that backend, or remove the rule.",
                id="django_cfg.E002",
            )
        )
    elif label not in labels and label != CACHE_APP_LABEL:
        messages.append(
            Error(
                f"{where} names app {label!r}, which is not an installed app label.",
                hint="Rules use app labels (AppConfig.label, e.g. 'blog' for 'apps.blog'); "
                f"installed: {', '.join(sorted(labels))}.",
                id="django_cfg.E002",
            )
        )
    if role.replica_of is not None:
        messages.append(
            Error(
                f"{where} routes {label!r} to a replica of {role.replica_of!r}; its writes and "
                "migrations would go to a database that cannot take them.",
                hint=f"Route {label!r} to {role.replica_of!r}: reads use its replicas anyway.",
                id="django_cfg.E004",
            )
        )
    elif role.read_only:
        messages.append(
            Warning(
                f"{where} routes {label!r} to a read-only database: reads work, every write "
                "fails and its tables are never migrated there.",
                hint="Fine for unmanaged models over a warehouse (silence django_cfg.W005); "
                "otherwise route the app to a primary.",
                id="django_cfg.W005",
            )
        )
    return messages


@register(TAG)
def check_replicas(**_: Any) -> list[CheckMessage]:
    topology = get_topology()
    return [
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


@register(Tags.models, TAG)
def check_cross_database_relations(**_: Any) -> list[CheckMessage]:
    if not _routing_in_use():
        return []
    topology = get_topology()
    messages: list[CheckMessage] = [
        Error(
            f"{relation.describe()}: a {type(relation.field).__name__} across databases needs a "
            "JOIN on every query, which no database can run.",
            hint="Keep both models on one database (route both apps together), or replace the "
            "relation with a ForeignKey on a model of the same database.",
            obj=relation.field,
            id="django_cfg.E008",
        )
        for relation in joined_cross_database_relations(topology)
    ]
    if not topology.cross_database_relations:
        messages += [
            Error(
                f"{relation.describe()} crosses databases, but DATABASE_CROSS_RELATIONS is False.",
                hint="Allow it (DjangoConfig.cross_database_relations = True) or route both "
                "apps to one database.",
                obj=relation.field,
                id="django_cfg.E009",
            )
            for relation in cross_database_relations(topology)
        ]
    return messages


@register(Tags.database, TAG)
def check_cross_database_constraints(
    app_configs: Any = None, databases: Sequence[str] | None = None, **_: Any
) -> list[CheckMessage]:
    """Migrations that would create a constraint on a table of another database (migrate only)."""
    if databases is None or not _routing_in_use():
        return []
    relations = cross_database_relations()
    if not relations:
        return []
    from django.db.migrations.loader import MigrationLoader

    state = MigrationLoader(None, ignore_no_migrations=True).project_state()
    messages: list[CheckMessage] = []
    for relation in relations:
        model = relation.field.model._meta
        model_state = state.models.get((model.app_label, model.model_name))
        field = model_state.fields.get(relation.field.name) if model_state else None
        if field is not None and getattr(field, "db_constraint", False):
            messages.append(
                Error(
                    f"{relation.describe()}: the migrations of {model.app_label!r} give this "
                    f"ForeignKey a database constraint, which {relation.database!r} cannot "
                    "create (the table lives on another database).",
                    hint=f"Run 'manage.py makemigrations {model.app_label}': it writes "
                    "db_constraint=False for this field.",
                    obj=relation.field,
                    id="django_cfg.E006",
                )
            )
    return messages
