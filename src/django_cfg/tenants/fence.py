"""A tenant database that refuses writes by itself: the fence ``move_tenant`` puts on a source.

    fence("tenant_acme__fence", ["notes_note", "notes_tag"], "tenant 'acme' is being moved")
    unfence("tenant_acme__fence", ["notes_note", "notes_tag"])   # the move failed: writable
    fences_without("tenant_acme__move", "tenant 'acme' ...")   # fenced for another tenant?

A trigger on every table of the tenant aborts each INSERT, UPDATE and DELETE (and TRUNCATE on
PostgreSQL) with the message: SQLite ``RAISE(ABORT, ...)`` (an ``IntegrityError``), PostgreSQL a
statement trigger raising SQLSTATE 25006 ``read_only_sql_transaction`` (an ``InternalError``),
MariaDB ``SIGNAL SQLSTATE '45000'`` (an ``OperationalError``; the message is cut at 128
characters). Triggers hold for every session, also the ones opened before the fence (SQLite
re-reads the schema at each statement), in every process, whatever its settings say.

Writes in flight are waited for: creating a trigger needs SQLite's write lock, PostgreSQL's
SHARE ROW EXCLUSIVE lock of the table (which waits for every open transaction that wrote it;
``LOCK_TIMEOUT`` bounds the wait), MariaDB's metadata lock of the table. So once ``fence``
returns, every write that was acknowledged before is committed, and every later one fails.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from django_cfg.settings.url import engine_family

__all__ = ["LOCK_TIMEOUT", "fence", "fences_without", "unfence"]

LOCK_TIMEOUT = "10s"
"""How long PostgreSQL's fence waits for the transactions that wrote a table to end."""

_NAME = "django_cfg_fence"
_EVENTS = ("INSERT", "UPDATE", "DELETE")


def fence(alias: str, tables: Iterable[str], message: str) -> None:
    """Make ``tables`` of database ``alias`` refuse every write with ``message``, all or none
    (a writable connection: not one of a read-only alias)."""
    connection = connections[alias]
    family = engine_family(connection.settings_dict["ENGINE"])
    tables = list(tables)
    if family == "mysql":  # DDL commits at once: no transaction to undo a partial fence
        try:
            with connection.cursor() as cursor:
                for table in tables:
                    for statement in _mariadb_triggers(connection, table, message):
                        cursor.execute(statement)
        except BaseException:
            unfence(alias, tables)
            raise
        return
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        if family == "postgresql":
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            cursor.execute(
                f"CREATE OR REPLACE FUNCTION {_NAME}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN RAISE EXCEPTION USING ERRCODE = 'read_only_sql_transaction', "
                "MESSAGE = TG_ARGV[0]; END $$"
            )
            for table in tables:
                cursor.execute(
                    f"CREATE TRIGGER {_NAME} BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON "
                    f"{connection.ops.quote_name(table)} FOR EACH STATEMENT EXECUTE FUNCTION "
                    f"{_NAME}({_literal(message)})"
                )
            return
        for table in tables:
            for event in _EVENTS:
                cursor.execute(
                    f"CREATE TRIGGER {_sqlite_trigger(connection, table, event)} BEFORE {event} "
                    f"ON {connection.ops.quote_name(table)} "
                    f"BEGIN SELECT RAISE(ABORT, {_literal(message)}); END"
                )


def unfence(alias: str, tables: Iterable[str]) -> None:
    """Remove the fence of ``tables`` (those that have none are left as they are)."""
    connection = connections[alias]
    family = engine_family(connection.settings_dict["ENGINE"])
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        for table in tables:
            quoted = connection.ops.quote_name(table)
            if family == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS {_NAME} ON {quoted}")
                continue
            for event in _EVENTS:
                name = (
                    _mariadb_trigger(connection, table, event)
                    if family == "mysql"
                    else _sqlite_trigger(connection, table, event)
                )
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def fences_without(alias: str, message: str) -> int:
    """How many fence triggers of database ``alias`` do not say ``message`` (0: no fence, or
    only the fence of the move that gave ``message``, which is safe to remove)."""
    connection = connections[alias]
    family = engine_family(connection.settings_dict["ENGINE"])
    query = {
        "sqlite": "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s",
        "postgresql": "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgname LIKE %s",
        "mysql": "SELECT ACTION_STATEMENT FROM information_schema.TRIGGERS "
        "WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME LIKE %s",
    }[str(family)]
    said = _literal(message[:128].replace("\\", "") if family == "mysql" else message)
    with connection.cursor() as cursor:
        cursor.execute(query, [_NAME + "%"])
        return sum(1 for (definition,) in cursor.fetchall() if said not in str(definition))


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sqlite_trigger(connection: BaseDatabaseWrapper, table: str, event: str) -> str:
    return connection.ops.quote_name(f"{_NAME}_{event.lower()}_{table}")


def _mariadb_trigger(connection: BaseDatabaseWrapper, table: str, event: str) -> str:
    """A trigger name of at most 64 characters, unique per table and event."""
    digest = hashlib.blake2b(table.encode(), digest_size=8).hexdigest()
    return connection.ops.quote_name(f"{_NAME}_{event[0].lower()}_{digest}")


def _mariadb_triggers(connection: BaseDatabaseWrapper, table: str, message: str) -> list[str]:
    quoted = connection.ops.quote_name(table)
    text = _literal(message[:128].replace("\\", ""))
    return [
        f"CREATE TRIGGER {_mariadb_trigger(connection, table, event)} BEFORE {event} ON "
        f"{quoted} FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = {text}"
        for event in _EVENTS
    ]
