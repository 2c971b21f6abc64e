"""The runtime's counts and breakers, and the databases' probed state, for Prometheus.

    body, content_type = render_metrics()   # GET /-/metrics (django_cfg.urls); needs the
                                            # extra: pip install "django-cfg[metrics]"

Nothing on a query's path calls prometheus_client: the router, the replica backend and the
query wrapper bump plain dicts (``runtime.operation_counts``), read here at scrape time.

- One process (runserver, a threaded server): a collector reads this process's counts.
- ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn workers, prometheus_client's multiprocess mode):
  each process adds what it counted since its last flush to prometheus_client's metrics (their
  files in that directory) at the end of every request (``request_finished``) and before it
  serves a scrape; the scrape merges every process's files (``MultiProcessCollector``).

Either way the process serving the scrape probes the databases (``operations.readiness``,
bounded by ``DJANGO_CFG_HEALTH_TIMEOUT``, reused for ``DJANGO_CFG_HEALTH_MAX_AGE``) for the
``django_cfg_database_*`` and lag gauges. docs/deployment.md has the table of metrics.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django_cfg.operations.readiness import UNAVAILABLE, readiness
from django_cfg.runtime.operation_counts import LATENCY_BUCKETS, LatencyHistogram
from django_cfg.runtime.runtime import DatabaseRuntime, current_runtime
from django_cfg.settings.tenant_names import tenant_database_of

__all__ = ["flush", "multiprocess_mode", "render_metrics"]

ALIAS_COUNTERS = (  # name (prometheus_client adds _total), help, OperationCounts field
    ("django_cfg_reads", "SELECT statements run on the database.", "reads"),
    ("django_cfg_writes", "INSERT, UPDATE and DELETE statements run on the database.", "writes"),
    (
        "django_cfg_replica_fallbacks",
        "Connections of a replica alias made to its primary instead (replica unreachable).",
        "replica_fallbacks",
    ),
    (
        "django_cfg_replica_reruns",
        "Statements of a replica alias run again on its primary (connection lost, or a "
        "conflict with recovery).",
        "reruns",
    ),
    (
        "django_cfg_connection_failures",
        "Connections to the database that could not be made.",
        "connection_failures",
    ),
    (
        "django_cfg_failed_writes",
        "Statements other than SELECT that raised a database error.",
        "failed_writes",
    ),
)
TENANT_COUNTERS = (
    ("django_cfg_tenant_databases_opened", "Tenant databases added to the process.", "opened"),
    (
        "django_cfg_tenant_databases_evicted",
        "Tenant databases closed for max_open (least recently used).",
        "evicted",
    ),
    (
        "django_cfg_tenant_databases_superseded",
        "Tenant databases closed because the tenant moved, is moving or was dropped.",
        "superseded",
    ),
)
LATENCY = ("django_cfg_query_duration_seconds", "Time a statement took, per database.")
TENANT_LABEL, TENANT_REPLICA_LABEL = "tenant", "tenant_replica"


@dataclass
class Family:
    """One metric of this process: its kind, name, help, label names and values by labels."""

    kind: str  # "counter" | "gauge"
    name: str
    help: str
    labels: tuple[str, ...] = ()
    values: dict[tuple[str, ...], float] = field(default_factory=dict)
    multiprocess_mode: str = "livemax"


def bounded_alias(alias: str) -> str:
    """The ``alias`` label: tenant databases share one value (their number is unbounded)."""
    tenant = tenant_database_of(alias)
    if tenant is None:
        return alias
    return TENANT_LABEL if tenant == alias else TENANT_REPLICA_LABEL


def process_families(runtime: DatabaseRuntime) -> list[Family]:
    """This process's counters and gauges (tenant aliases folded into one label value)."""
    counts = runtime.state.operations
    families = []
    for name, text, attribute in ALIAS_COUNTERS:
        family = Family("counter", name, text, ("alias",))
        for alias, value in list(getattr(counts, attribute).items()):
            key = (bounded_alias(alias),)
            family.values[key] = family.values.get(key, 0) + value
        families.append(family)
    for name, text, attribute in TENANT_COUNTERS:
        value = getattr(counts, f"tenants_{attribute}")
        families.append(Family("counter", name, text, values={(): value}))
    events = Family(
        "counter",
        "django_cfg_routing_events",
        "What the replica monitor counted: reads sent to a primary and why, replicas skipped, "
        "failovers, breakers opened (event names: docs/replicas.md).",
        ("event",),
    )
    events.values = {(event,): value for event, value in list(runtime.counts.items())}
    families.append(events)
    families.append(_breakers(runtime))
    registry = runtime.state.tenant_registry
    if registry is not None:
        families.append(
            Family(
                "gauge",
                "django_cfg_tenant_databases_open",
                "Tenant databases open in the process.",
                values={(): len(registry.open)},
                multiprocess_mode="livesum",
            )
        )
    return families


def _breakers(runtime: DatabaseRuntime) -> Family:
    family = Family(
        "gauge",
        "django_cfg_breaker_open",
        "1 while this process keeps the database out of rotation after a failed connection.",
        ("alias",),
    )
    monitor = runtime.monitor
    if monitor is not None:
        for breakers in (monitor.primary_health, monitor.health):
            for alias, health in list(breakers.items()):
                if tenant_database_of(alias) is None:
                    family.values[(alias,)] = 1.0 if health.failures else 0.0
    return family


def latencies(runtime: DatabaseRuntime) -> dict[str, LatencyHistogram]:
    """Query durations per bounded alias label (tenants' histograms merged)."""
    merged: dict[str, LatencyHistogram] = {}
    for alias, histogram in list(runtime.state.operations.latency.items()):
        into = merged.setdefault(bounded_alias(alias), LatencyHistogram())
        into.buckets = [a + b for a, b in zip(into.buckets, histogram.buckets, strict=True)]
        into.total_seconds += histogram.total_seconds
    return merged


def probe_families() -> list[Family]:
    """The databases as the probe found them now (``operations.readiness``)."""
    report = readiness()
    ready = Family("gauge", "django_cfg_ready", "1 when readyz answers 200 (ok or degraded).")
    ready.values[()] = 0.0 if report.status == UNAVAILABLE else 1.0
    degraded = Family("gauge", "django_cfg_degraded", "1 when readyz answers degraded.")
    degraded.values[()] = 1.0 if report.status == "degraded" else 0.0
    up = Family("gauge", "django_cfg_database_up", "1 when the database answered the probe.")
    server = Family(
        "gauge",
        "django_cfg_database_server",
        "1 for the server (host:port) that answered the probe and its role as it reports it "
        "(primary, or replica while in recovery).",
        ("alias", "server", "role"),
    )
    seconds = Family("gauge", "django_cfg_probe_seconds", "How long the probe took.")
    lag_bytes = Family("gauge", "django_cfg_replica_lag_bytes", "WAL bytes left to replay.")
    lag_seconds = Family(
        "gauge", "django_cfg_replica_lag_seconds", "Replay lag the replica monitor measured."
    )
    paused = Family("gauge", "django_cfg_replica_replay_paused", "1 while replay is paused.")
    for family in (up, seconds, lag_bytes, lag_seconds, paused):
        family.labels = ("alias",)
    for alias, entry in report.databases.items():
        up.values[(alias,)] = 1.0 if entry["reachable"] else 0.0
        seconds.values[(alias,)] = entry["seconds"]
        if entry["server_role"] is not None:
            server.values[(alias, entry["server"] or "", entry["server_role"])] = 1.0
        for family, key in ((lag_bytes, "lag_bytes"), (lag_seconds, "lag_seconds")):
            if entry.get(key) is not None:
                family.values[(alias,)] = float(entry[key])
        if entry.get("replay_paused") is not None:
            paused.values[(alias,)] = 1.0 if entry["replay_paused"] else 0.0
    return [ready, degraded, up, server, seconds, lag_bytes, lag_seconds, paused]


# Prometheus ----------------------------------------------------------------------------------


def multiprocess_mode() -> bool:
    """prometheus_client's multiprocess mode: PROMETHEUS_MULTIPROC_DIR set, and it installed."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR")) and (
        importlib.util.find_spec("prometheus_client") is not None
    )


def render_metrics() -> tuple[bytes, str]:
    """The text a scrape gets, and its content type (prometheus_client must be installed)."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)  # one per scrape: no global registry
    if multiprocess_mode():
        from prometheus_client import multiprocess

        flush()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(_Collector(process=False))
    else:
        registry.register(_Collector(process=True))
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Collector:
    """Yields the probe's families, and this process's own unless they are in the files."""

    def __init__(self, process: bool) -> None:
        self.process = process

    def collect(self) -> Iterator[Any]:
        runtime = current_runtime()
        families = probe_families()
        if self.process:
            families = [*process_families(runtime), *families]
        for family in families:
            yield _metric_family(family)
        if self.process:
            yield _histogram_family(latencies(runtime))


def _metric_family(family: Family) -> Any:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    kind = CounterMetricFamily if family.kind == "counter" else GaugeMetricFamily
    metric = kind(family.name, family.help, labels=family.labels)
    for labels, value in family.values.items():
        metric.add_metric(list(labels), value)
    return metric


def _histogram_family(histograms: dict[str, LatencyHistogram]) -> Any:
    from prometheus_client.core import HistogramMetricFamily

    metric = HistogramMetricFamily(*LATENCY, labels=("alias",))
    for alias, histogram in histograms.items():
        cumulative, buckets = 0, []
        for bound, count in zip((*LATENCY_BUCKETS, float("inf")), histogram.buckets, strict=True):
            cumulative += count
            buckets.append((_bound_text(bound), cumulative))
        metric.add_metric([alias], buckets, histogram.total_seconds)
    return metric


def _bound_text(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def flush(**_: Any) -> None:
    """Multiprocess mode: add what this process counted since its last flush to
    prometheus_client's metrics (their files); connected to ``request_finished``."""
    runtime = current_runtime()
    state = runtime.state
    with state.metrics_lock:
        export = state.metrics_export
        for family in process_families(runtime):
            _flush_family(export, family)
        _flush_latencies(export, latencies(runtime))


def _flush_family(export: dict[Any, Any], family: Family) -> None:
    from prometheus_client import Counter, Gauge

    metric: Any = export.get(family.name)
    if metric is None:
        if family.kind == "counter":
            metric = Counter(family.name, family.help, family.labels, registry=None)
        else:
            metric = Gauge(
                family.name,
                family.help,
                family.labels,
                registry=None,
                multiprocess_mode=family.multiprocess_mode,  # type: ignore[arg-type]
            )
        export[family.name] = metric
    for labels, value in family.values.items():
        child = metric.labels(*labels) if labels else metric
        if family.kind == "gauge":
            child.set(value)
            continue
        done = export.get((family.name, labels), 0)
        if value > done:
            child.inc(value - done)
            export[(family.name, labels)] = value


def _flush_latencies(export: dict[Any, Any], histograms: dict[str, LatencyHistogram]) -> None:
    """prometheus_client has no call to add bucket counts: they are added to its per-bucket
    values directly (``_buckets``, ``_sum``: the values ``Histogram.observe`` increments)."""
    from prometheus_client import Histogram

    name = LATENCY[0]
    metric = export.get(name)
    if metric is None:
        metric = export[name] = Histogram(
            *LATENCY, ("alias",), registry=None, buckets=LATENCY_BUCKETS
        )
    for alias, histogram in histograms.items():
        done = export.get((name, alias)) or LatencyHistogram()
        child = metric.labels(alias)
        for index, (now, before) in enumerate(zip(histogram.buckets, done.buckets, strict=True)):
            if now > before:
                child._buckets[index].inc(now - before)
        child._sum.inc(histogram.total_seconds - done.total_seconds)
        export[(name, alias)] = histogram
