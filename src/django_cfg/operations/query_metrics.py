"""Per-query metrics: the latency histogram and failed writes, per alias (on by default).

    # settings.py
    DJANGO_CFG_QUERY_METRICS = False   # off: no per-query timing (reads/writes still counted)

An execute wrapper is put on each new connection (first in ``connection.execute_wrappers``, as
patch 5's: a user's ``with connection.execute_wrapper()`` block pops its own): it times the
statement into ``state.operations.latency[alias]`` (a bucket increment, no prometheus_client
call) and counts a statement other than SELECT that raised a
``DatabaseError`` in ``state.operations.failed_writes[alias]``. Its cost per query is measured
in benchmarks/RESULTS.md ("Metrics"); docs/deployment.md has the figure.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db.backends.signals import connection_created

from django_cfg.runtime.runtime import current_runtime

__all__ = ["install_query_metrics", "query_metrics_enabled"]

_RECEIVER = "django_cfg.operations.query_metrics"


def query_metrics_enabled() -> bool:
    return bool(getattr(settings, "DJANGO_CFG_QUERY_METRICS", True))


def install_query_metrics(enabled: bool) -> None:
    """Time every new connection's statements (``enabled``), or stop doing so for new ones."""
    if enabled:
        connection_created.connect(_measure_connection, dispatch_uid=_RECEIVER)
    else:
        connection_created.disconnect(dispatch_uid=_RECEIVER)


def _measure_connection(sender: Any, connection: Any, **_: Any) -> None:
    if any(getattr(wrapper, "measures_queries", False) for wrapper in connection.execute_wrappers):
        return  # a reconnection of a wrapper already measured
    connection.execute_wrappers.insert(0, measuring_wrapper(connection.alias))


def measuring_wrapper(alias: str) -> Callable[..., Any]:
    """The execute wrapper of one alias's connections (bound to its histogram and counts)."""
    counts = current_runtime().state.operations
    histogram = counts.latency[alias]
    failed_writes = counts.failed_writes

    def measured(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
    ) -> Any:
        started = perf_counter()
        try:
            return execute(sql, params, many, context)
        except DatabaseError:
            if sql.lstrip()[:6].upper() != "SELECT":
                failed_writes[alias] += 1
            raise
        finally:
            histogram.observe(perf_counter() - started)

    measured.measures_queries = True  # type: ignore[attr-defined]
    return measured
