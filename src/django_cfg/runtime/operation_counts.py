"""What happened in this process, per alias: plain integers that the code on the hot path bumps
and ``django_cfg.operations`` exports as Prometheus metrics at scrape time.

    counts = current_runtime().state.operations
    counts.reads["replica"]          # SELECT statements run on "replica" so far
    counts.failed_writes["default"]  # write statements that raised on "default"

A dict increment costs tens of nanoseconds; a ``prometheus_client`` call per query would cost
microseconds and a lock, so nothing here imports it. Increments from several threads may
rarely lose one (``d[k] += 1`` is not atomic): these are operational counts, not a ledger.
Each field names the module that bumps it; nothing else writes them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict

from django_cfg.state.value_record import ValueRecord

__all__ = ["LATENCY_BUCKETS", "LatencyHistogram", "OperationCounts"]

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Upper bounds (seconds) of the query latency histogram; a last bucket holds the rest (+Inf)."""


def _per_alias() -> defaultdict[str, int]:
    return defaultdict(int)


# ValueRecords, not dataclasses: no exec() at startup (state/value_record.py, issue 23).
class LatencyHistogram(ValueRecord):
    """Query durations of one alias: a count per bucket (not cumulative) and their sum."""

    def __init__(self) -> None:
        self.buckets: list[int] = [0] * (len(LATENCY_BUCKETS) + 1)
        self.total_seconds: float = 0.0

    def observe(self, seconds: float) -> None:
        self.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.total_seconds += seconds


class OperationCounts:
    """Counters since the process started, per alias (the field's docstring names its owner)."""

    def __init__(self) -> None:
        self.reads: defaultdict[str, int] = _per_alias()
        """``routing.query_metrics``: SELECT statements run on each alias."""
        self.writes: defaultdict[str, int] = _per_alias()
        """``routing.query_metrics``: INSERT, UPDATE and DELETE statements run on each alias."""
        self.replica_fallbacks: defaultdict[str, int] = _per_alias()
        """``replicas.failover``: connections of a replica alias made to its primary instead."""
        self.reruns: defaultdict[str, int] = _per_alias()
        """``replicas.failover``: statements of a replica alias run again on its primary."""
        self.connection_failures: defaultdict[str, int] = _per_alias()
        """``replicas.outage``: connections that could not be made (while patch 7 is in place)."""
        self.failed_writes: defaultdict[str, int] = _per_alias()
        """``routing.query_metrics``: statements other than SELECT that raised, per alias."""
        self.latency: defaultdict[str, LatencyHistogram] = defaultdict(LatencyHistogram)
        """``routing.query_metrics``: query durations per alias (when query metrics are on)."""
        self.tenants_opened: int = 0
        """``tenants.registry``: tenant databases added to this process."""
        self.tenants_evicted: int = 0
        """``tenants.registry``: tenant databases closed for ``max_open`` (least recently used)."""
        self.tenants_superseded: int = 0
        """``tenants.registry``: tenant databases closed because the tenant's row changed (a move,
        a move in progress, a drop) when the registry read it again."""
