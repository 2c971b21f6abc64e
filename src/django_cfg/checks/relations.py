"""System checks of relations across databases: what no database can run, and unfinished deletes.

django_cfg.E006  a migration gives a cross-database ForeignKey a database constraint
django_cfg.E008  a ManyToManyField or parent link crosses databases (always needs a JOIN)
django_cfg.E009  a ForeignKey crosses databases but DATABASE_CROSS_RELATIONS is False
django_cfg.E041  Django 6.1's DB_CASCADE / DB_SET_NULL on a cross-database ForeignKey
django_cfg.W050  a cross-database delete did not finish (a crash): repair_relations
django_cfg.E070  a ForeignKey, OneToOneField or ManyToManyField from a shared model to a
                 tenant model (TenantsConfig.apps): which tenant's row would it name?
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.checks import CheckMessage, Error, Warning

from django_cfg.checks.routing import _routing_in_use
from django_cfg.relations.crossing import (
    CrossDatabaseRelation,
    cross_database_relations,
    joined_cross_database_relations,
)
from django_cfg.runtime.runtime import current_runtime
from django_cfg.state.topology import TENANT_HOME


def check_cross_database_relations(**_: Any) -> list[CheckMessage]:
    if not _routing_in_use():
        return []
    topology = current_runtime().topology
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


def check_shared_to_tenant_relations(**_: Any) -> list[CheckMessage]:
    """A shared row cannot name a tenant row: every tenant has its own rows of that model."""
    topology = current_runtime().topology
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


# Registered with the "database" tag only (checks/__init__.py says why).
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
