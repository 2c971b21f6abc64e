"""System checks for every database misconfiguration visible at startup (``manage.py check``).

    django_cfg.E001  a routing rule names an alias that is not in DATABASES
    django_cfg.E002  a routing rule names an app that is not installed (``django_cache``, the
                     label of Django's DatabaseCache, is accepted when CACHES uses it)
    django_cfg.E003  one app is routed to two databases
    django_cfg.E004  a routing rule targets a replica
    django_cfg.W005  a routing rule targets a read-only database
    django_cfg.E006  a migration gives a cross-database ForeignKey a database constraint
    django_cfg.E007  a replica's primary, or a copy's original primary, is not configured
    django_cfg.E008  a ManyToManyField or parent link crosses databases (always needs a JOIN)
    django_cfg.E009  a ForeignKey crosses databases but DATABASE_CROSS_RELATIONS is False
    django_cfg.W010  routing rules are set but the package's router is not installed
    django_cfg.W020  (check --deploy) SECRET_KEY is the development key
    django_cfg.W021  (check --deploy) DJANGO_ENV is a development one (unset, dev, test)
    django_cfg.W022  (check --deploy) a database is the spec loader's SQLite fallback
    django_cfg.W023  (check --deploy) a PostgreSQL replica has no lag bound
    django_cfg.W024  (check --deploy) AUTH_PASSWORD_VALIDATORS is empty
    django_cfg.W025  (check --deploy) EMAIL_BACKEND keeps mail (console, file, locmem, dummy)
    django_cfg.E030  an admin option needs a JOIN across databases (cross_database_admin.py)
    django_cfg.E031  RelatedOnlyFieldListFilter on a ForeignKey to another database (same module)
    django_cfg.W040  an alias named like a replica (``replica``, ``<x>_replica``) has no role
    django_cfg.E041  Django 6.1's DB_CASCADE / DB_SET_NULL on a cross-database ForeignKey
    django_cfg.W050  a cross-database delete did not finish (a crash): repair_relations
    django_cfg.E070  a ForeignKey, OneToOneField or ManyToManyField from a shared model to a
                     tenant model (TenantsConfig.apps): which tenant's row would it name?
    django_cfg.W060  a PostgreSQL URL looks pooled (port 6432, 'pgbouncer' in the host) but does
                     not say which pooler mode (``?pooler=transaction`` or ``session``)

Silence one with ``SILENCED_SYSTEM_CHECKS = ["django_cfg.W005"]``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from django_cfg.relations.crossing import (
    CrossDatabaseRelation,
    cross_database_relations,
    joined_cross_database_relations,
)
from django_cfg.routing.topology import (
    ROUTER_PATH,
    TENANT_HOME,
    DatabaseRole,
    Topology,
    get_topology,
    router_installed,
)
from django_cfg.schema.cache_tables import CACHE_APP_LABEL, database_caches_configured
from django_cfg.settings.django_env import ENVIRONMENT_VARIABLE, current_environment
from django_cfg.settings.pooler import POOLER_KEY, looks_pooled
from django_cfg.settings.production import fallback_url, is_development
from django_cfg.settings.replica_names import implied_primaries, primary_by_name
from django_cfg.settings.url import base_engine, engine_family, server_list, shown_servers

TAG = "django_cfg"


@register(Tags.security, TAG, deploy=True)
def check_development_key(**_: Any) -> list[CheckMessage]:
    from django_cfg.settings.development_key import development_key_origin, is_development_key

    key = getattr(settings, "SECRET_KEY", "")
    if not (isinstance(key, str) and is_development_key(key)):
        return []
    return [
        Warning(
            f"SECRET_KEY is django_cfg's development key ({development_key_origin(key)}), used "
            "because secret_key is not set and the environment is a development one "
            "(DJANGO_ENV unset, dev or test). Anyone who can read that file can sign sessions "
            "and cookies.",
            hint="For a deployment set DJANGO_ENV=prod (or staging, ...) and a SECRET_KEY of 50+ "
            "random characters (secret_key = env.secret_key); django_cfg then refuses to start "
            "without it.",
            id="django_cfg.W020",
        )
    ]


@register(Tags.security, TAG, deploy=True)
def check_development_environment(**_: Any) -> list[CheckMessage]:
    environment = current_environment()
    if not is_development(environment):
        return []
    return [
        Warning(
            f"{ENVIRONMENT_VARIABLE} is {os.environ.get(ENVIRONMENT_VARIABLE) or 'unset'} "
            f"(environment {environment!r}): django_cfg's development defaults apply (DEBUG on, "
            "the development key, the loaders' SQLite fallbacks, no HTTPS redirect).",
            hint=f"Run the deployment checks as the deployment runs: {ENVIRONMENT_VARIABLE}=prod "
            "python manage.py check --deploy (or staging, ...).",
            id="django_cfg.W021",
        )
    ]


@register(TAG, deploy=True)
def check_fallback_databases(**_: Any) -> list[CheckMessage]:
    base_dir = Path(getattr(settings, "BASE_DIR", None) or os.getcwd())
    messages: list[CheckMessage] = []
    for alias, entry in settings.DATABASES.items():
        relative = _relative_to(Path(str(entry.get("NAME") or "")), base_dir)
        fallback = fallback_url(alias, base_engine(str(entry.get("ENGINE", ""))), relative)
        if fallback is None:
            continue
        url, variable = fallback
        messages.append(
            Warning(
                f"Database {alias!r} is {url}, the specification loader's built-in default, and "
                f"{variable} is not set in the process environment.",
                hint=f"Set {variable} to the deployment's database URL (or, to run on that "
                f"SQLite file on purpose, set it explicitly: {variable}={url}).",
                id="django_cfg.W022",
            )
        )
    return messages


@register(TAG, deploy=True)
def check_replica_lag_bounds(**_: Any) -> list[CheckMessage]:
    topology = get_topology()
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


def _relative_to(path: Path, base_dir: Path) -> str:
    return path.relative_to(base_dir).as_posix() if path.is_relative_to(base_dir) else str(path)


def _engine_of(alias: str) -> str:
    return str(settings.DATABASES.get(alias, {}).get("ENGINE", ""))


@register(Tags.security, TAG, deploy=True)
def check_password_validators(**_: Any) -> list[CheckMessage]:
    if getattr(settings, "AUTH_PASSWORD_VALIDATORS", None):
        return []
    return [
        Warning(
            "AUTH_PASSWORD_VALIDATORS is empty: any password is accepted, '1' included.",
            hint="Leave DjangoConfig.password_validators at its default (startproject's four "
            "validators) or list your own.",
            id="django_cfg.W024",
        )
    ]


_KEPT_MAIL = {"console", "filebased", "locmem", "dummy"}


@register(Tags.security, TAG, deploy=True)
def check_email_backend(**_: Any) -> list[CheckMessage]:
    backend = str(getattr(settings, "EMAIL_BACKEND", ""))
    kind = backend.rsplit(".", 2)[-2] if backend.count(".") >= 2 else ""
    if not backend.startswith("django.core.mail.backends.") or kind not in _KEPT_MAIL:
        return []
    return [
        Warning(
            f"EMAIL_BACKEND is {backend}: mail (password resets, error reports) is never sent.",
            hint="Set DjangoConfig.email from an e-mail URL, e.g. EMAIL_URL=smtp+tls://user:"
            "password@mail.example.com:587 and email = env.email_url.",
            id="django_cfg.W025",
        )
    ]


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


@register(TAG)
def check_replicas(**_: Any) -> list[CheckMessage]:
    topology = get_topology()
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
        if not _shared_to_tenant(relation)  # E070 says more
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


def _shared_to_tenant(relation: CrossDatabaseRelation) -> bool:
    return relation.target_database == TENANT_HOME and relation.database != TENANT_HOME


@register(Tags.models, TAG)
def check_shared_to_tenant_relations(**_: Any) -> list[CheckMessage]:
    """A shared row cannot name a tenant row: every tenant has its own rows of that model."""
    topology = get_topology()
    relations = (*cross_database_relations(topology), *joined_cross_database_relations(topology))
    messages: list[CheckMessage] = []
    for relation in filter(_shared_to_tenant, relations):
        model, field = relation.field.model._meta, relation.field
        messages.append(
            Error(
                f"The {type(field).__name__} {relation.label} goes from a shared model (app "
                f"{model.app_label!r}, on {relation.database!r}) to {relation.target_label}, a "
                "tenant model (its app is in TenantsConfig.apps): "
                "every tenant has its own rows of that model, so a shared row cannot say which "
                "tenant's row it names.",
                hint=f"Reverse the relation (a ForeignKey on {relation.target_label} to "
                f"{model.label}), move {model.label}'s app into TenantsConfig.apps, or store "
                "the tenant's name and the row's id in plain fields (docs/tenants.md, Limits).",
                obj=field,
                id="django_cfg.E070",
            )
        )
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


@register(TAG)
def check_replica_names(**_: Any) -> list[CheckMessage]:
    """Aliases named like a replica that nothing declares a replica (hand-written settings)."""
    if not _routing_in_use():
        return []
    return replica_name_warnings(get_topology(), getattr(settings, "DATABASE_ROLES", {}) or {})


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


@register(Tags.models, TAG)
def check_database_on_delete(**_: Any) -> list[CheckMessage]:
    """Django 6.1's DB_CASCADE / DB_SET_NULL / DB_SET_DEFAULT on a ForeignKey across databases.

    They are carried out by the foreign key constraint (``ON DELETE CASCADE``), which cannot
    exist across databases (the package drops it): deleting the target would do nothing.
    """
    try:
        from django.db.models.deletion import DatabaseOnDelete
    except ImportError:  # Django < 6.1 has no database-level on_delete
        return []
    if not _routing_in_use():
        return []
    messages: list[CheckMessage] = []
    for relation in cross_database_relations():
        on_delete = getattr(relation.field.remote_field, "on_delete", None)
        if not isinstance(on_delete, DatabaseOnDelete):
            continue
        name = str(on_delete)
        target = relation.target_label
        messages.append(
            Error(
                f"{relation.describe()}: on_delete={name} is carried out by the database's "
                f"foreign key constraint, which cannot exist across databases: deleting a row "
                f"of {target} on {relation.target_database!r} would leave the rows of "
                f"{relation.field.model._meta.label} on {relation.database!r} untouched.",
                hint=f"Use on_delete=models.{name.removeprefix('DB_')}: django_cfg runs it on "
                f"{relation.database!r} whenever a row of {target} is deleted (obj.delete(), "
                "QuerySet.delete(), the admin).",
                obj=relation.field,
                id="django_cfg.E041",
            )
        )
    return messages


# Tagged "database" only: Django runs those checks only when databases are named (migrate,
# check --database); a "django_cfg" tag would run its queries in every run_checks(tags=[TAG])
# (Django 6.1 passes every alias as ``databases`` there, where 5.2 passed None).
@register(Tags.database)
def check_unfinished_deletes(
    app_configs: Any = None, databases: Sequence[str] | None = None, **_: Any
) -> list[CheckMessage]:
    """Cross-database deletes a crash interrupted (``migrate``, ``check --database``)."""
    if databases is None or not _routing_in_use() or not cross_database_relations():
        return []
    from datetime import timedelta

    from django.db import DatabaseError

    from django_cfg.relations.delete_intents import pending_deletes

    try:  # a minute old at least: younger ones may still be committing
        pending = pending_deletes(databases, older_than=timedelta(minutes=1))
    except DatabaseError:
        return []  # unreachable or not migrated yet: db_status and migrate say so
    return [
        Warning(
            f"Unfinished cross-database {delete.describe()} (recorded on "
            f"{', '.join(map(repr, delete.found_on))}): rows on some databases may be deleted "
            "or updated and not on others.",
            hint="Run 'manage.py repair_relations' to finish it (it deletes what is left and "
            "applies on_delete to what still references deleted rows); --dry-run lists it.",
            id="django_cfg.W050",
        )
        for delete in pending
    ]


@register(TAG)
def check_pooled_urls(**_: Any) -> list[CheckMessage]:
    return [
        Warning(
            f"Database {alias!r} looks like it goes through a connection pooler (PgBouncer: "
            f"{shown_servers(entry.get('HOST') or '', entry.get('PORT'))}) but its pooler mode "
            "is not set. Behind a "
            "transaction pooler, .iterator() fails ('cursor ... does not exist') and "
            "session-level state (locks, settings) passes between clients.",
            hint="Add ?pooler=transaction to its URL (or DatabaseConfig(pooler='transaction')); "
            "?pooler=session if the pooler runs in session mode. See docs/deployment.md.",
            id="django_cfg.W060",
        )
        for alias, entry in settings.DATABASES.items()
        if engine_family(base_engine(str(entry.get("ENGINE", "")))) == "postgresql"
        and POOLER_KEY not in entry
        and looks_pooled(server_list(str(entry.get("HOST") or ""), entry.get("PORT") or None))
    ]
