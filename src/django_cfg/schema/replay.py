"""A migration's SQL recorded on one PostgreSQL database and replayed on the next ones.

    recordings: Recordings = {}                  # one per shared plan (and thread)
    key = replay_key(connection, migration, operations, states)    # None: never replayed
    statements = recordings.get(key) if key else None
    if statements is not None:
        replay(connection, statements, rows)     # one transaction, the rows in it
    else:
        with connection.execute_wrapper(capture := Capture()):
            ...                                  # database_forwards, as migrate runs it
        if key and capture.replayable():
            recordings[key] = capture.statements

Only what provably gives the same SQL on every database is replayed: an atomic migration whose
operations are all CreateModel, AddField, AddIndex or AddConstraint (exactly those classes;
an AddField only if its column's default is not computed when it runs: no callable default,
no ``auto_now``), on Django's own PostgreSQL schema editor, the same server version, the
router answering ``allow_migrate`` alike for each operation's model (the key holds the
answers), and whose recorded statements are all DDL the schema editor sent without
parameters (``CREATE TABLE`` / ``INDEX``, ``ALTER TABLE``, ``COMMENT ON``): a statement that
reads the database (introspection) makes the migration never replayed. Anything else runs
``database_forwards`` on every database, as before.

A replay skips the SQL generation, not the SQL: the same statements in the same order, in one
transaction with the migration's ``django_migrations`` rows. On PostgreSQL 13 and later with
client-side binding (Django's default) they go as one multi-statement message (one round
trip; since 13 the server applies ``statement_timeout`` to each statement of such a message,
as to separate ones); otherwise one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.migration import Migration
from django.db.migrations.operations import AddConstraint, AddField, AddIndex, CreateModel
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

__all__ = ["Capture", "Recordings", "replay", "replay_key"]

ReplayKey = tuple[Any, ...]
Recordings = dict[ReplayKey, list[str]]

_REPLAYABLE = (CreateModel, AddField, AddIndex, AddConstraint)
_DDL = ("CREATE TABLE ", "CREATE INDEX ", "CREATE UNIQUE INDEX ", "ALTER TABLE ", "COMMENT ON ")
_ONE_MESSAGE_SINCE = 130000  # statement_timeout per statement of a multi-statement message


def replay_key(
    connection: BaseDatabaseWrapper,
    migration: Migration,
    operations: Sequence[Operation],
    after: Sequence[ProjectState],
) -> ReplayKey | None:
    """What makes ``migration``'s SQL the same on two databases (None: not replayable).
    ``operations`` are the plan's, ``after[i]`` the state after ``operations[i]``."""
    if not (migration.atomic and _own_postgresql_editor(connection)):
        return None
    if [id(op) for op in migration.operations] != [id(op) for op in operations]:
        return None  # a pre_migrate handler inserted an operation
    if not all(type(op) in _REPLAYABLE and _static_default(op) for op in operations):
        return None
    answers = tuple(
        op.allow_migrate_model(connection.alias, _model(op, state, migration.app_label))
        for op, state in zip(operations, after, strict=True)
    )
    version = connection.pg_version  # type: ignore[attr-defined]
    return (migration.app_label, migration.name, version, answers)


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

    def replayable(self) -> bool:
        """Only parameterless DDL was run (nothing read the database)."""
        return not self._other


def replay(connection: BaseDatabaseWrapper, statements: list[str], rows: list[str]) -> None:
    """``statements`` then ``rows`` in one transaction on ``connection``."""
    every = [*statements, *rows]
    with transaction.atomic(connection.alias), connection.cursor() as cursor:
        if _one_message(connection):
            cursor.execute(";\n".join(every), None)
            return
        for sql in every:
            cursor.execute(sql, None)


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


def _model(operation: Operation, state: ProjectState, app_label: str) -> Any:
    """The model ``database_forwards`` asks the router about (from the state after it)."""
    name = operation.name if isinstance(operation, CreateModel) else operation.model_name
    return state.apps.get_model(app_label, name)
