"""A migration's SQL recorded on one PostgreSQL database and replayed on the next ones.

    key = replay_key(connection, migration, steps)   # None: never replayed
    statements = recordings.get(key) if key else None
    if statements is not None:
        replay(connection, statements, rows)         # one transaction, the rows in it
    else:
        with connection.execute_wrapper(capture := Capture()):
            ...                                      # database_forwards, as migrate runs it
        if key and recordable(key, capture):
            recordings[key] = capture.statements

Only what provably gives the same SQL on every database is replayed, an atomic migration on
Django's own PostgreSQL schema editor whose operations are all Django's model and field
operations (which touch the database only through the schema editor, once the router allowed
their model), under a key holding the server version and the router's ``allow_migrate``
answer for every model each operation names:

- its SQL, when every operation is a CreateModel, AddField, AddIndex or AddConstraint (exactly
  those classes; an AddField only if its default is not computed as it runs: no callable, no
  ``auto_now``) and the recorded statements are all parameterless DDL (``CREATE TABLE`` /
  ``INDEX``, ``ALTER TABLE``, ``COMMENT ON``; a statement that reads the database, such as
  introspection, means never replayed);
- no SQL at all, for the other operations, only when they ran none (the router kept them
  from it: the migrations of apps that live on another database).

Neither when a class of the project's renders part of the SQL (a field, the primary key a
relation points to, an index, a constraint, an expression in them: it may render per
connection, as a field that encrypts its default with a per-tenant key does), nor when an
``execute_wrapper`` other than django_cfg's is installed (it may change statements per
database, or expect them one by one). Anything else (RunPython, RunSQL, an AlterField that ran
SQL, ...) runs ``database_forwards`` on every database, as before. A replay skips the SQL
generation, not the SQL: the same statements in the same order, in one transaction with the
migration's ``django_migrations`` rows. On PostgreSQL 13 and later with client-side binding
(Django's default) they go as one multi-statement message (one round trip; since 13 the server
applies ``statement_timeout`` to each statement of such a message, as to separate ones);
otherwise one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.migration import Migration
from django.db.migrations.operations import AddConstraint, AddField, AddIndex, CreateModel
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState
from django.db.models import Q

__all__ = [
    "Capture",
    "Recordings",
    "ReplayKey",
    "djangos_own",
    "recordable",
    "replay",
    "replay_key",
    "schema_operation",
]

ReplayKey = tuple[Any, ...]
Recordings = dict[ReplayKey, list[str]]

_REPLAYABLE = (CreateModel, AddField, AddIndex, AddConstraint)
_DDL = ("CREATE TABLE ", "CREATE INDEX ", "CREATE UNIQUE INDEX ", "ALTER TABLE ", "COMMENT ON ")
_ONE_MESSAGE_SINCE = 130000  # statement_timeout per statement of a multi-statement message


def replay_key(
    connection: BaseDatabaseWrapper,
    migration: Migration,
    steps: Sequence[tuple[Operation, ProjectState, ProjectState]],
    djangos: bool | None = None,
) -> ReplayKey | None:
    """What makes ``migration``'s SQL the same on two databases (None: never replayed).
    ``steps``: the plan's operations, each with the states before and after it; ``djangos``:
    ``djangos_own(migration, steps)`` when the caller keeps it (it depends on the steps only)."""
    if not (migration.atomic and _own_postgresql_editor(connection)):
        return None
    operations = [operation for operation, _before, _after in steps]
    if [id(op) for op in migration.operations] != [id(op) for op in operations]:
        return None  # a pre_migrate handler inserted an operation
    if not all(schema_operation(op) for op in operations) or _foreign_wrappers(connection):
        return None
    if not (djangos_own(migration, steps) if djangos is None else djangos):
        return None
    writes = all(type(op) in _REPLAYABLE and _static_default(op) for op in operations)
    answers = tuple(
        _router_answers(connection.alias, op, states, migration.app_label) for op, *states in steps
    )
    version = connection.pg_version  # type: ignore[attr-defined]
    return (migration.app_label, migration.name, version, writes, answers)


def djangos_own(
    migration: Migration, steps: Sequence[tuple[Operation, ProjectState, ProjectState]]
) -> bool:
    """Whether only Django's own classes render the SQL of each of ``steps`` (``_djangos_own``)."""
    return all(_djangos_own(op, states, migration.app_label) for op, *states in steps)


def recordable(key: ReplayKey, capture: Capture) -> bool:
    """Whether what ``capture`` saw may be replayed under ``key``: only parameterless DDL (no
    read of the database), and none at all unless every operation is one whose SQL is
    replayed (the others only when the router kept them from running anything)."""
    return capture.only_ddl() and (key[3] or not capture.statements)


def schema_operation(operation: Operation) -> bool:
    """One of Django's model and field operations: each touches the database only through
    the schema editor, once the router allowed its model; they never render a state's models
    again."""
    return type(operation).__module__ in _SCHEMA_OPERATION_MODULES


class Capture:
    """An ``execute_wrapper``: the statements run while it is installed (not while paused)."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.paused = False
        self._other = False

    def __call__(
        self, execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Any
    ) -> Any:
        if not self.paused:
            text = str(sql)
            if many or params is not None or not text.upper().startswith(_DDL):
                self._other = True
            self.statements.append(text)
        return execute(sql, params, many, context)

    def only_ddl(self) -> bool:
        """Only parameterless DDL was run (nothing read the database)."""
        return not self._other


def replay(
    connection: BaseDatabaseWrapper,
    statements: list[str],
    rows: list[str],
    then: Callable[[], None] | None = None,
) -> None:
    """``statements`` then ``rows`` (then ``then()``) in one transaction on ``connection``."""
    every = [*statements, *rows]
    with transaction.atomic(connection.alias):
        if every:
            with connection.cursor() as cursor:
                if _one_message(connection):
                    cursor.execute(";\n".join(every), None)
                else:
                    for sql in every:
                        cursor.execute(sql, None)
        if then is not None:
            then()


def _foreign_wrappers(connection: BaseDatabaseWrapper) -> bool:
    """Whether an ``execute_wrapper`` other than django_cfg's (which only reword errors and
    count) is installed: it may change each statement per database, or expect them one by
    one."""
    return any(
        not str(getattr(wrapper, "__module__", None) or type(wrapper).__module__).startswith(
            "django_cfg."
        )
        for wrapper in connection.execute_wrappers
    )


def _djangos_own(operation: Operation, states: Sequence[ProjectState], app_label: str) -> bool:
    """Whether all that renders the SQL of the models ``operation`` names is Django's own: their
    fields (and the primary keys their relations point to), indexes, constraints and the
    expressions in them. A project's class may render per connection (a field prepares its
    default with the connection, as an encrypting field does), so its SQL is not taken as the
    same on every database."""
    for model in _named_models(operation, states, app_label):
        if model is None:
            continue
        meta = model._meta
        fields = [*meta.local_fields, *meta.local_many_to_many]
        targets = [field.related_model for field in fields if field.related_model]
        if not all(isinstance(target, type) for target in targets):
            return False  # a relation not resolved in this state: not judged, not replayed
        related = [target._meta.pk for target in targets]
        parts = [*fields, *related, *meta.indexes, *meta.constraints]
        if not all(_djangos(part) for part in parts):
            return False
    return True


def _djangos(part: Any) -> bool:
    """``part`` (a field, an index, a constraint, an expression, a ``Q``) and every expression
    it holds are of Django's own classes; plain values are."""
    if isinstance(part, (list, tuple)):
        return all(_djangos(item) for item in part)
    if isinstance(part, Q):
        return all(
            _djangos(child[1] if isinstance(child, tuple) else child) for child in part.children
        )
    if not hasattr(part, "get_source_expressions") and not hasattr(part, "deconstruct"):
        return True  # a value: a field of Django's prepares it
    if not str(type(part).__module__).startswith(_DJANGO_MODULES):
        return False
    held = [getattr(part, name, None) for name in _HELD_EXPRESSIONS]
    if hasattr(part, "get_source_expressions") and not isinstance(part, type):
        held.extend(part.get_source_expressions())
    return all(_djangos(item) for item in held if item is not None and item is not part)


def _named_models(
    operation: Operation, states: Sequence[ProjectState], app_label: str
) -> Iterator[Any]:
    """Each model ``operation`` names (``name``, ``model_name``, ``old_name``, ``new_name``) in
    each of ``states``, in that order; None where the state has no such model."""
    names = [
        value
        for attribute in ("name", "model_name", "old_name", "new_name")
        if isinstance(value := getattr(operation, attribute, None), str)
    ]
    for state in states:
        for name in names:
            try:
                yield state.apps.get_model(app_label, name)
            except LookupError:
                yield None


def _own_postgresql_editor(connection: BaseDatabaseWrapper) -> bool:
    if connection.vendor != "postgresql":
        return False
    from django.db.backends.postgresql.schema import DatabaseSchemaEditor

    return connection.SchemaEditorClass is DatabaseSchemaEditor


def _one_message(connection: BaseDatabaseWrapper) -> bool:
    """Whether several statements may go in one message: the simple query protocol (client-side
    binding: psycopg2, or psycopg 3 without ``server_side_binding``) on PostgreSQL 13+."""
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    server_side = is_psycopg3 and connection.settings_dict["OPTIONS"].get("server_side_binding")
    version: int = connection.pg_version  # type: ignore[attr-defined]
    return server_side is not True and version >= _ONE_MESSAGE_SINCE


def _static_default(operation: Operation) -> bool:
    """An AddField whose column default is computed when it runs (a callable, ``auto_now``)
    writes a different literal on each database; the other operations write none."""
    if not isinstance(operation, AddField):
        return True
    field = operation.field
    if field.has_default():
        return not callable(field.default)
    return not (getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))


def _router_answers(
    alias: str, operation: Operation, states: Sequence[ProjectState], app_label: str
) -> tuple[bool | None, ...]:
    """``allow_migrate_model`` for every model ``database_forwards`` may ask about: each name
    the operation holds, in the states before and after it (None: no such model)."""
    return tuple(
        None if model is None else operation.allow_migrate_model(alias, model)
        for model in _named_models(operation, states, app_label)
    )


_DJANGO_MODULES = ("django.db.models.", "django.contrib.postgres.")
"""Where Django's fields, indexes, constraints and expressions live (not GIS: its column types
depend on the spatial backend)."""
_HELD_EXPRESSIONS = ("expressions", "condition", "db_default", "expression")
"""Attributes of fields (``db_default``, a ``GeneratedField``'s ``expression``), indexes and
constraints that hold expressions rendered into the SQL."""
_SCHEMA_OPERATION_MODULES = frozenset(
    {"django.db.migrations.operations.models", "django.db.migrations.operations.fields"}
)
