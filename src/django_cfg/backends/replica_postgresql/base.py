"""PostgreSQL for replica aliases: Django's backend plus failover to the primary.

The failover lives in classes this package owns (the wrapper and its cursors), not in patches
of Django's: ``make_cursor``/``make_debug_cursor`` are Django's per-backend cursor factories.
"""

from typing import Any

from django.db.backends.postgresql.base import CursorDebugWrapper
from django.db.backends.postgresql.base import DatabaseWrapper as PostgreSQLDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from django_cfg.replicas.failover import FailoverCursorMixin, ReplicaFailoverMixin


class FailoverCursorWrapper(FailoverCursorMixin, CursorWrapper):
    pass


class FailoverCursorDebugWrapper(CursorDebugWrapper, FailoverCursorWrapper):
    """Logs a rerun statement once, as Django's debug cursor logs any statement."""


class DatabaseWrapper(ReplicaFailoverMixin, PostgreSQLDatabaseWrapper):
    def make_cursor(self, cursor: Any) -> FailoverCursorWrapper:
        return FailoverCursorWrapper(cursor, self)

    def make_debug_cursor(self, cursor: Any) -> FailoverCursorDebugWrapper:
        return FailoverCursorDebugWrapper(cursor, self)
