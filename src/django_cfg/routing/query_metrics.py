"""Per-query metrics: the latency histogram and failed writes, per alias (on by default with
the ``django-cfg[metrics]`` extra installed).

    # settings.py
    DJANGO_CFG_QUERY_METRICS = False   # off: no per-query timing (reads/writes still counted)

``django_cfg.patches`` (patch 5) puts ``measuring_wrapper(alias)`` first in each new
connection's ``execute_wrappers`` (a user's ``with connection.execute_wrapper()`` block pops its
own): it counts the statement as a read or a write of ``alias`` (``state.operations``), times
it into ``state.operations.latency[alias]`` (a bucket increment, no prometheus_client call) and
counts a statement other than SELECT that raised a ``DatabaseError`` in
``state.operations.failed_writes[alias]``. Its cost per query is measured
in benchmarks/RESULTS.md ("Metrics"); docs/deployment.md has the figure.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib.util import find_spec
from time import perf_counter
from typing import Any

from django.conf import settings
from django.db import DatabaseError

from django_cfg.runtime.runtime import current_runtime

__all__ = ["measuring_wrapper", "query_metrics_enabled"]

_READS = ("SELECT", "select")
_WRITES = ("INSERT", "UPDATE", "DELETE", "insert", "update", "delete")
"""What a statement counts as, by its first word as Django (or a user's raw SQL) writes it;
transaction control (SAVEPOINT, RELEASE, BEGIN...) counts as neither."""


def query_metrics_enabled() -> bool:
    """Whether statements are timed: ``DJANGO_CFG_QUERY_METRICS``, by default on when
    prometheus-client is installed (the ``django-cfg[metrics]`` extra), else off."""
    enabled = getattr(settings, "DJANGO_CFG_QUERY_METRICS", None)
    if enabled is None:
        return _prometheus_installed()
    return bool(enabled)


@functools.cache  # asked per new connection (patch 5): a search of sys.path each time
def _prometheus_installed() -> bool:
    return find_spec("prometheus_client") is not None


def measuring_wrapper(alias: str) -> Callable[..., Any]:
    """The execute wrapper of one alias's connections (bound to its histogram and counts)."""
    counts = current_runtime().state.operations
    histogram = counts.latency[alias]
    failed_writes = counts.failed_writes
    reads, writes = counts.reads, counts.writes

    def measured(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
    ) -> Any:
        if sql.startswith(_READS):
            reads[alias] += 1
        elif sql.startswith(_WRITES):
            writes[alias] += 1
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
