"""Finishing on one database what a killed ``migrate`` left half done, before migrating again.

A run killed with SIGKILL can leave a migration's tables in place without its row in
``django_migrations``, and the next ``migrate`` then stops at ``CREATE TABLE``: "already exists".

- PostgreSQL and SQLite apply a migration in one transaction, but Django records a migration
  that had deferred statements (indexes, foreign keys) only after that transaction commits
  (``MigrationExecutor.apply_migration``, Django 5.2 and 6.0): a kill in between leaves the
  migration's schema complete and unrecorded.
- MariaDB/MySQL cannot roll DDL back: every ``CREATE TABLE`` commits on its own, so a kill can
  also leave some of an initial migration's tables, or all of them without the indexes and
  foreign keys Django creates at the end of the migration.

Django records migrations one by one, so only one migration per database can be caught half way:
the first unrecorded one. ``recover(alias)`` looks at it (and, if it finishes it, at the next):
when it is an initial migration whose tables already exist, it creates what is missing (tables
and columns of a half-created migration, on a database without transactional DDL; indexes and
constraints the migration declares), records it as applied, and says so. That is Django's
``--fake-initial`` rule (``MigrationExecutor.detect_soft_applied``), completed where a crash
leaves more than Django expects. ``soft_applied_later(alias)`` lists the initial migrations
further on whose tables exist (tables made outside migrations): ``migrate --fake-initial``
fakes exactly those, and ``finish_faked(alias, found)`` then creates the indexes and
constraints they declare that the database lacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import connections, router
from django.db.migrations import AddField, CreateModel
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.migration import Migration

__all__ = ["Recovered", "finish_faked", "may_be_soft_applied", "recover", "soft_applied_later"]


@dataclass
class Recovered:
    """One migration found applied but not recorded on ``alias``, and what was done about it."""

    alias: str
    migration: str
    found: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    recorded: bool = True

    def describe(self) -> str:
        verb = "faked" if self.recorded else "will be faked (--fake-initial)"
        text = (
            f"{self.alias}: {self.migration} {verb}: its tables exist but it was not recorded "
            "(a migrate run was interrupted, or they were made outside migrations): "
            f"{', '.join(self.found)}"
        )
        if self.created:
            text += f"; created what it lacked: {', '.join(self.created)}"
        return text


def recover(alias: str) -> list[Recovered]:
    """Finish and record the initial migrations at the front of ``alias``'s plan whose tables
    exist; stops at the first migration that is not one."""
    connection = connections[alias]
    done: list[Recovered] = []
    while True:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if not plan or plan[0][1]:
            return done
        migration = plan[0][0]
        found = _recover_one(executor, alias, migration)
        if found is None:
            return done
        done.append(found)


def soft_applied_later(alias: str) -> list[Recovered]:
    """Initial migrations of the plan whose tables exist (Django's ``detect_soft_applied``)."""
    connection = connections[alias]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if not plan:
        return []
    with connection.cursor() as cursor:
        tables = {name.casefold() for name in connection.introspection.table_names(cursor)}
    found = []
    for migration, backwards in plan:
        if backwards or not _is_initial(migration) or not _may_exist(migration, tables):
            continue
        applied, _state = executor.detect_soft_applied(None, migration)
        if applied:
            names = [t for t, _ in _created_objects(executor, alias, migration) if t]
            found.append(Recovered(alias, _name(migration), sorted(set(names)), recorded=False))
    return found


def may_be_soft_applied(connection: Any, migrations: list[Migration]) -> bool:
    """Whether a table of an initial migration among ``migrations`` exists on ``connection``
    (one introspection query, no model rendering): then ``recover`` / ``migrate
    --fake-initial`` have to look at it."""
    initial = [migration for migration in migrations if _is_initial(migration)]
    if not initial:
        return False
    with connection.cursor() as cursor:
        tables = {name.casefold() for name in connection.introspection.table_names(cursor)}
    return any(_may_exist(migration, tables) for migration in initial)


def _may_exist(migration: Migration, tables: set[str]) -> bool:
    """A cheap first look (no model rendering): does a table the migration names exist?"""
    from django.db.backends.utils import truncate_name

    for operation in migration.operations:
        if isinstance(operation, CreateModel):
            name, table = operation.name_lower, operation.options.get("db_table")
        elif isinstance(operation, AddField):
            name, table = operation.model_name_lower, None
        else:
            continue
        default = f"{migration.app_label}_{name}"
        candidates = {default, *(truncate_name(default, size) for size in (30, 63, 64))}
        if table:
            candidates.add(str(table))
        if {c.casefold() for c in candidates} & tables:
            return True
    return False


def _name(migration: Migration) -> str:
    return f"{migration.app_label}.{migration.name}"


def _is_initial(migration: Migration) -> bool:
    """Django's rule (``detect_soft_applied``): ``initial = True``, or unset and first of app."""
    if migration.initial is None:
        return not any(app == migration.app_label for app, _ in migration.dependencies)
    return bool(migration.initial)


def _created_objects(
    executor: MigrationExecutor, alias: str, migration: Migration
) -> list[tuple[str, Any]]:
    """``(table, what)`` the migration creates on ``alias``: ``what`` is a model (its table),
    or ``(model, field)`` for a column. Skips models the migration creates nowhere here
    (proxy, unmanaged, swapped out, routed elsewhere), as its operations do."""
    state = executor.loader.project_state((migration.app_label, migration.name), at_end=True)
    connection = executor.connection
    objects: list[tuple[str, Any]] = []
    for operation in migration.operations:
        if isinstance(operation, CreateModel):
            model = state.apps.get_model(migration.app_label, operation.name)
            if not router.allow_migrate_model(alias, model) or not model._meta.can_migrate(
                connection
            ):
                continue
            objects.append((model._meta.db_table, model))
            for m2m in model._meta.local_many_to_many:
                through = m2m.remote_field.through
                if through._meta.auto_created:
                    objects.append((through._meta.db_table, through))
        elif isinstance(operation, AddField):
            model = state.apps.get_model(migration.app_label, operation.model_name)
            if not router.allow_migrate_model(alias, model) or not model._meta.can_migrate(
                connection
            ):
                continue
            added = model._meta.get_field(operation.name)
            if added.many_to_many:
                through = added.remote_field.through
                if through._meta.auto_created:
                    objects.append((through._meta.db_table, through))
            elif added.column:
                objects.append((model._meta.db_table, (model, added)))
    return objects


def _recover_one(executor: MigrationExecutor, alias: str, migration: Migration) -> Recovered | None:
    if not _is_initial(migration):
        return None
    connection = executor.connection
    objects = _created_objects(executor, alias, migration)
    if not objects:
        return None
    fold = str.casefold if connection.features.ignores_table_name_case else str
    with connection.cursor() as cursor:
        tables = {fold(name) for name in connection.introspection.table_names(cursor)}
    missing: list[tuple[str, Any]] = []
    present: list[tuple[str, Any]] = []
    for table, what in objects:
        if isinstance(what, tuple):
            exists = fold(table) in tables and _has_column(connection, table, what[1].column)
            label = f"column {table}.{what[1].column}"
        else:
            exists = fold(table) in tables
            label = f"table {table}"
        (present if exists else missing).append((label, what))
    if not any(label.startswith("table ") for label, _ in present):
        return None  # nothing of it exists: migrate applies it as usual
    # Django's --fake-initial rule (detect_soft_applied) is the first judge; it does not look
    # for auto-created many-to-many tables of a new model, and requires the table of a swapped
    # model (auth.User when AUTH_USER_MODEL is set) that a later migration creates, so the
    # objects counted above decide when it does not apply as it is.
    soft_applied, _state = executor.detect_soft_applied(None, migration)
    if soft_applied and not missing:
        return _record(executor, migration, Recovered(alias, _name(migration), _tables(present)))
    if missing and connection.features.can_rollback_ddl:
        # One transaction creates all of it on this engine: a part of it was made by someone
        # else. Django's migrate stops with "already exists", naming the table.
        return None
    recovered = Recovered(alias, _name(migration), _tables(present))
    with connection.schema_editor(atomic=False) as editor:
        for label, what in missing:
            if isinstance(what, tuple):
                editor.add_field(*what)
            elif what._meta.db_table.casefold() not in _table_names(connection):
                # Not an auto-created many-to-many table made with its model just now.
                editor.create_model(what)  # with its auto-created many-to-many tables
            recovered.created.append(label)
    return _record(executor, migration, recovered)


def _table_names(connection: Any) -> set[str]:
    with connection.cursor() as cursor:
        return {name.casefold() for name in connection.introspection.table_names(cursor)}


def _tables(present: list[tuple[str, Any]]) -> list[str]:
    return [label.removeprefix("table ") for label, _ in present if label.startswith("table ")]


def _record(executor: MigrationExecutor, migration: Migration, recovered: Recovered) -> Recovered:
    recovered.created += _create_missing_constraints(executor, migration)
    # What MigrationExecutor.record_migration does (its signature differs in Django 5.2 and 6).
    for app_label, name in migration.replaces or []:
        executor.recorder.record_applied(app_label, name)
    executor.recorder.record_applied(migration.app_label, migration.name)
    return recovered


def _has_column(connection: Any, table: str, column: str) -> bool:
    with connection.cursor() as cursor:
        described = connection.introspection.get_table_description(cursor, table)
    return any(c.name.casefold() == column.casefold() for c in described)


def _create_missing_constraints(executor: MigrationExecutor, migration: Migration) -> list[str]:
    """Create the named indexes and constraints the migration declares but the database lacks
    (on MariaDB/MySQL Django creates them at the end of a migration, after its tables)."""
    connection = executor.connection
    before = executor.loader.project_state((migration.app_label, migration.name), at_end=False)
    statements: list[Any] = []

    class Capturing(connection.SchemaEditorClass):  # type: ignore[name-defined,misc]
        """The backend's schema editor, keeping each statement object (with its ``parts``)."""

        def execute(self, sql: Any, params: Any = ()) -> None:
            statements.append(sql)
            super().execute(sql, params)

    # What connection.schema_editor() does, with the subclass.
    with Capturing(connection, collect_sql=True, atomic=False) as collector:
        migration.apply(before, collector, collect_sql=True)
        statements += collector.deferred_sql
        collector.deferred_sql = []
    created = []
    existing: dict[str, set[str]] = {}
    for statement in statements:
        parts = getattr(statement, "parts", None)
        if not parts or "name" not in parts or "table" not in parts:
            continue
        table = getattr(parts["table"], "table", str(parts["table"]))
        name = str(parts["name"]).strip('"`[]')
        if table not in existing:
            with connection.cursor() as cursor:
                names = connection.introspection.get_constraints(cursor, table)
            existing[table] = {n.casefold() for n in names}
        if name.casefold() in existing[table]:
            continue
        with connection.schema_editor(atomic=False) as editor:
            editor.execute(statement)
        existing[table].add(name.casefold())
        created.append(f"{name} on {table}")
    return created


def finish_faked(alias: str, faked: list[Recovered]) -> list[str]:
    """After ``migrate --fake-initial``: create the named indexes and constraints that the
    faked migrations declare and the database lacks; what was created, as text."""
    executor = MigrationExecutor(connections[alias])
    created = []
    for found in faked:
        app_label, name = found.migration.split(".", 1)
        migration = executor.loader.get_migration(app_label, name)
        found.created += _create_missing_constraints(executor, migration)
        created += [f"{found.migration}: {what}" for what in found.created]
    return created
