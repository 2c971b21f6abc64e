"""A write sent to a read-only database fails with an error that says so.

The database itself refuses the write (``DatabaseConfig(read_only=True)`` makes every session
read-only: PostgreSQL ``default_transaction_read_only``, MySQL ``SET SESSION TRANSACTION READ
ONLY``, SQLite ``PRAGMA query_only``); this turns its message into one that names the alias:

    >>> Report(total=1).save(using="analytics")
    ReadOnlyDatabaseError: database 'analytics' is read-only (DatabaseConfig(read_only=True)) ...

On PostgreSQL the session setting travels as libpq's ``options`` startup parameter, which a
transaction pooler refuses (PgBouncer: "unsupported startup parameter") or drops
(``ignore_startup_parameters = options``). So a read-only PostgreSQL database behind
``?pooler=transaction`` (which sends no ``options``), or whose new connection reports
``default_transaction_read_only = off``, is read-only per transaction instead: psycopg opens every
transaction with ``BEGIN READ ONLY`` (``Connection.read_only``), and a statement outside
``atomic()`` runs in a transaction of its own. No session state is relied on, so it holds
whichever pooled server connection runs the statement; it costs a BEGIN and a COMMIT per
statement outside ``atomic()``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, InternalError

from django_cfg.routing.explained_errors import explaining_wrapper
from django_cfg.runtime.runtime import current_runtime
from django_cfg.settings.pooler import behind_transaction_pooler

__all__ = [
    "ReadOnlyDatabaseError",
    "enforce_per_transaction",
    "read_only_because",
    "read_only_wrapper",
]

logger = logging.getLogger("django_cfg.routing")

# What each engine says when a read-only session is asked to write.
_READ_ONLY_MESSAGES = (
    "read-only transaction",
    "READ ONLY transaction",
    "attempt to write a readonly",
)


class ReadOnlyDatabaseError(InternalError):
    """A write was sent to a database configured with ``read_only=True``."""


def read_only_because(alias: str, reason: str | None) -> None:
    """Say why ``alias`` is read-only in its refusals (``None``: the configured default).

    ``move_tenant`` makes a tenant's database read-only for the time of a move: its refusals
    then name the tenant and the move instead of ``DatabaseConfig(read_only=True)``.
    """
    reasons = current_runtime().state.read_only_reasons
    if reason is None:
        reasons.pop(alias, None)
    else:
        reasons[alias] = reason


def _refusal(alias: str, sql: str, error: DatabaseError) -> Exception:
    statement = sql.split(None, 1)[0].upper() if sql.strip() else "the statement"
    reason = current_runtime().state.read_only_reasons.get(alias)
    if reason is not None:
        return ReadOnlyDatabaseError(f"{reason}: {statement} refused.")
    return ReadOnlyDatabaseError(
        f"database {alias!r} is read-only (DatabaseConfig(read_only=True)): {statement} "
        f"refused. Writes go to a primary; the router never sends them to {alias!r}, so "
        "this one was sent there explicitly (.using(), save(using=...), a raw cursor)."
    )


_explain_writes = explaining_wrapper(_READ_ONLY_MESSAGES, _refusal)


def read_only_wrapper(alias: str) -> Callable[..., Any] | None:
    """The execute wrapper that names ``alias`` when it refuses a write; None if it takes writes.

    ``django_cfg.patches`` installs it on each new connection to a read-only database.
    """
    role = current_runtime().topology.roles.get(alias)
    return _explain_writes if role is not None and role.read_only else None


def _in_read_only_transaction(
    execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    raw = context["connection"].connection
    if not raw.autocommit:
        return execute(sql, params, many, context)  # in atomic(): psycopg began READ ONLY
    with raw.transaction():  # BEGIN READ ONLY; the statement; COMMIT (ROLLBACK if it fails)
        return execute(sql, params, many, context)


def enforce_per_transaction(connection: Any) -> bool:
    """For a new connection to a read-only database: make it read-only per transaction when the
    session setting cannot be relied on (see the module's docstring). True if it did."""
    if connection.vendor != "postgresql":
        return False
    raw = connection.connection
    if not behind_transaction_pooler(connection.settings_dict):
        with raw.cursor() as cursor:
            cursor.execute("SHOW default_transaction_read_only")
            row = cursor.fetchone()
        if row is not None and row[0] == "on":
            return False  # a direct connection: the session refuses writes
        logger.warning(
            "database %r: read_only=True but its session is writable "
            "(default_transaction_read_only = off: a pooler dropped the startup options?); "
            "read-only is enforced per transaction. Declare the pooler in the URL "
            "(?pooler=transaction) to skip this check.",
            connection.alias,
        )
    raw.read_only = True  # psycopg: every BEGIN it sends is BEGIN READ ONLY
    if _in_read_only_transaction not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, _in_read_only_transaction)
    return True
