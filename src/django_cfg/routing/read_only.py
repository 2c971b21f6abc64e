"""A write sent to a read-only database fails with an error that says so.

The database itself refuses the write (``DatabaseConfig(read_only=True)`` makes every session
read-only: PostgreSQL ``default_transaction_read_only``, MySQL ``SET SESSION TRANSACTION READ
ONLY``, SQLite ``PRAGMA query_only``); this turns its message into one that names the alias:

    >>> Report(total=1).save(using="analytics")
    ReadOnlyDatabaseError: database 'analytics' is read-only (DatabaseConfig(read_only=True)) ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, InternalError

__all__ = ["ReadOnlyDatabaseError", "read_only_wrapper"]

# What each engine says when a read-only session is asked to write.
_READ_ONLY_MESSAGES = (
    "read-only transaction",
    "READ ONLY transaction",
    "attempt to write a readonly",
)


class ReadOnlyDatabaseError(InternalError):
    """A write was sent to a database configured with ``read_only=True``."""


def _explain_writes(
    execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    try:
        return execute(sql, params, many, context)
    except DatabaseError as error:
        if not any(message in str(error) for message in _READ_ONLY_MESSAGES):
            raise
        alias = context["connection"].alias
        statement = sql.split(None, 1)[0].upper() if sql.strip() else "the statement"
        raise ReadOnlyDatabaseError(
            f"database {alias!r} is read-only (DatabaseConfig(read_only=True)): {statement} "
            f"refused. Writes go to a primary; the router never sends them to {alias!r}, so "
            "this one was sent there explicitly (.using(), save(using=...), a raw cursor)."
        ) from error


def read_only_wrapper(alias: str) -> Callable[..., Any] | None:
    """The execute wrapper that names ``alias`` when it refuses a write; None if it takes writes.

    ``django_cfg.patches`` installs it on each new connection to a read-only database.
    """
    from django_cfg.routing.runtime import current_runtime

    role = current_runtime().topology.roles.get(alias)
    return _explain_writes if role is not None and role.read_only else None
