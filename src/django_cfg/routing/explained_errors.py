"""Execute wrappers that turn a backend's raw error into one that says what to do.

    def explain(alias, sql, error):        # None: leave the error as it is
        return ReadOnlyDatabaseError(f"database {alias!r} is read-only ...")

    wrapper = explaining_wrapper(("read-only transaction",), explain)
    connection.execute_wrappers.insert(0, wrapper)   # django_cfg.patches, patch 5

Only errors whose text holds one of ``messages`` are looked at; the explained error is raised
``from`` the original, so the backend's own message stays in the traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import DatabaseError

__all__ = ["ExecuteWrapper", "explaining_wrapper"]

ExecuteWrapper = Callable[[Callable[..., Any], str, Any, bool, dict[str, Any]], Any]
Explain = Callable[[str, str, DatabaseError], Exception | None]


def explaining_wrapper(messages: tuple[str, ...], explain: Explain) -> ExecuteWrapper:
    """An execute wrapper raising ``explain(alias, sql, error)`` instead of a ``DatabaseError``
    whose text holds one of ``messages`` (unless it returns None)."""

    def explaining(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
    ) -> Any:
        try:
            return execute(sql, params, many, context)
        except DatabaseError as error:
            text = str(error)
            if not any(message in text for message in messages):
                raise
            explained = explain(context["connection"].alias, sql, error)
            if explained is None:
                raise
            raise explained from error

    return explaining
