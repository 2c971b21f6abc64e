"""A replica connection that never fails a read because the replica is down.

Used through the replica's ENGINE (``django_cfg.backends.replica_postgresql``, set by
``DatabaseConfig.to_django()`` for every PostgreSQL replica):

- connecting: if the replica cannot be reached (or its breaker is open), the connection is made
  to its primary instead, and the monitor takes the replica out of rotation;
- executing: if the connection dies mid-query outside a transaction (the replica was stopped),
  the statement is run again on the primary and its rows are read from there (the backend's
  own cursor class, ``FailoverCursorMixin``);
- once the replica's retry time has come, one connection tries the replica again; the others
  keep serving from the primary until it answers;
- a statement the replica cancelled because of a conflict with recovery (SQLSTATE 40001: the
  primary's VACUUM removed rows it was reading, after ``max_standby_streaming_delay``) outside a
  transaction runs again on the primary, on this thread's connection to it; counted
  (``recovery_conflict``, ``rerun_on_primary``) and logged. The replica stays in rotation: the
  conflict was that one statement's timing, not the replica's health.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.db import connections

from django_cfg.runtime.runtime import current_runtime

__all__ = ["FailoverCursorMixin", "ReplicaFailoverMixin"]

logger = logging.getLogger("django_cfg.replicas")

_RECOVERY_CONFLICT_STATES = frozenset({"40001", "40P01"})
"""SQLSTATEs of "canceling statement due to conflict with recovery" (40P01: buffer deadlock)."""


class ReplicaFailoverMixin:
    """Mixed into a backend's DatabaseWrapper for aliases that are replicas."""

    alias: str
    connection: Any
    settings_dict: dict[str, Any]
    in_atomic_block: bool
    failover_enabled = True
    close: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.serving_primary = False

    @property
    def primary_alias(self) -> str:
        return str(self.settings_dict.get("TEST", {}).get("MIRROR") or _replica_of(self.alias))

    def ensure_connection(self) -> None:
        # Runs before every query: a connection to the replica itself checks one attribute.
        if self.serving_primary and self.connection is not None and not self.in_atomic_block:
            monitor = current_runtime().monitor
            if monitor is not None and not monitor.is_unavailable(self.alias):
                self.close()  # the replica is back, or its retry time has come: reconnect to it
        super().ensure_connection()  # type: ignore[misc]

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        monitor = current_runtime().monitor
        self.serving_primary = False
        if self.failover_enabled and monitor is not None and not monitor.may_connect(self.alias):
            return self._connect_to_primary()
        started = time.monotonic()
        try:
            connection = super().get_new_connection(conn_params)  # type: ignore[misc]
        except Exception as error:
            if not self.failover_enabled:
                raise
            if monitor is not None:
                monitor.record_failure(self.alias, error, time.monotonic() - started)
            return self._connect_to_primary()
        if monitor is not None:
            monitor.record_success(self.alias)
        return connection

    def _connect_to_primary(self) -> Any:
        primary = connections[self.primary_alias]
        self.serving_primary = True
        runtime = current_runtime()
        if monitor := runtime.monitor:
            monitor.counts["served_by_primary"] += 1
        runtime.state.operations.replica_fallbacks[self.alias] += 1
        return super().get_new_connection(primary.get_connection_params())  # type: ignore[misc]

    def reconnected_after(self, error: Exception) -> bool:
        """Whether a statement that raised ``error`` may run again: the connection died outside
        a transaction, and this wrapper is now connected to the primary."""
        raw = self.connection
        lost = raw is None or raw.closed or getattr(raw, "broken", False)
        if not lost or self.in_atomic_block or not self.failover_enabled:
            return False
        runtime = current_runtime()
        runtime.state.operations.reruns[self.alias] += 1
        if (monitor := runtime.monitor) is not None:
            monitor.record_failure(self.alias, error)
            monitor.counts["rerun_on_primary"] += 1
        self.close()
        self.ensure_connection()  # the breaker is open: this connects to the primary
        return True

    def primary_cursor_after(self, error: Exception) -> Any | None:
        """A raw cursor on the primary to run again a statement the replica cancelled because
        of a conflict with recovery, outside a transaction; None for any other error."""
        if self.in_atomic_block or self.serving_primary or not self.failover_enabled:
            return None
        cause = error.__cause__ or error
        if getattr(cause, "sqlstate", None) not in _RECOVERY_CONFLICT_STATES or (
            "conflict with recovery" not in str(error)
        ):
            return None
        runtime = current_runtime()
        runtime.state.operations.reruns[self.alias] += 1
        if monitor := runtime.monitor:
            monitor.counts["recovery_conflict"] += 1
            monitor.counts["rerun_on_primary"] += 1
        primary = connections[self.primary_alias]
        logger.warning(
            "replica %s cancelled a read (conflict with recovery, SQLSTATE %s); run again on %s",
            self.alias,
            getattr(cause, "sqlstate", None),
            self.primary_alias,
        )
        primary.ensure_connection()
        return primary.create_cursor()


def _replica_of(alias: str) -> str:
    return current_runtime().topology.primary_of(alias)


class FailoverCursorMixin:
    """Mixed into the replica backend's cursor classes (the package's own, made by its
    ``make_cursor``/``make_debug_cursor``): a statement whose replica connection died is run
    again on the primary, outside every execute wrapper (they see the statement again)."""

    db: Any
    cursor: Any

    def execute(self, sql: Any, params: Any = None) -> Any:
        try:
            return super().execute(sql, params)  # type: ignore[misc]
        except Exception as error:
            on_primary = self.db.primary_cursor_after(error)
            if on_primary is not None:
                self.cursor.close()
                self.cursor = on_primary  # the rows are read from the primary's cursor
            elif self.db.reconnected_after(error):
                self.cursor = self.db.create_cursor()
            else:
                raise
        return super().execute(sql, params)  # type: ignore[misc]

    def executemany(self, sql: Any, param_list: Any) -> Any:
        try:
            return super().executemany(sql, param_list)  # type: ignore[misc]
        except Exception as error:
            if not self.db.reconnected_after(error):
                raise
        self.cursor = self.db.create_cursor()
        return super().executemany(sql, param_list)  # type: ignore[misc]
