"""Microseconds per ORM query with metrics off and on, side by side in one process.

    python benchmarks/metrics_overhead.py sqlite|postgres

The setup of orm_overhead.py (a replica configured, reads through django_cfg's router to the
replica alias, DEBUG off). Cases, alternating over 15 rounds (each first in half of them):

- ``no_router``: no router (Django's loop over no routers), no per-query wrapper;
- ``metrics_off``: the router, no per-query wrapper (``DJANGO_CFG_QUERY_METRICS = False``);
- ``metrics_on``: the router and the per-query wrapper (reads and writes counted, latency
  histogram, failed writes: ``DJANGO_CFG_QUERY_METRICS = True``, the default with
  prometheus-client installed).

Prints one JSON line: per query, each case's median round (us per query) and the median of
the per-round ratios on/off and off/no_router. Time on a shared 2-core machine moves by several
percent between rounds, so ``instructions`` counts instead: each case's instructions per query
by valgrind (callgrind), (count at 3N - count at N) / 2N, garbage collector off:

    python benchmarks/metrics_overhead.py sqlite instructions [QUERY N]
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import timeit
from concurrent.futures import ThreadPoolExecutor

import django
from django.conf import settings
from run import counted_instructions
from session_project import primary_and_replica, rendered

from django_cfg import DatabaseConfig

ENGINE = sys.argv[1]
main_url, replica_url = primary_and_replica(ENGINE)
databases = {
    "default": DatabaseConfig.from_url(main_url),
    "replica": DatabaseConfig.from_url(replica_url, replica_of="default"),
}
settings.configure(**rendered(databases), DJANGO_CFG_QUERY_METRICS=False)
django.setup()

from django.contrib.sessions.models import Session  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from django_cfg.routing.query_metrics import measuring_wrapper  # noqa: E402
from django_cfg.settings.routers import ROUTER_PATH  # noqa: E402
from django_cfg.state.pins import set_write  # noqa: E402
from django_cfg.state.wal import replayed_position, written_position  # noqa: E402

Session._meta.db_table = f"bench_session_{os.getpid()}"
with connection.schema_editor() as editor:
    editor.create_model(Session)
Session.objects.bulk_create(
    Session(session_key=f"key{i:04d}", session_data="x" * 40, expire_date=timezone.now())
    for i in range(100)
)
if ENGINE == "postgres":
    with connection.cursor() as primary, connections["replica"].cursor() as replica:
        written = written_position(primary)
        while (replayed_position(replica) or 0) < (written or 0):
            pass
set_write("default", None)
assert Session.objects.count() == 100
WRAPPERS = {alias: measuring_wrapper(alias) for alias in ("default", "replica")}
ROUTERS = {
    True: override_settings(DATABASE_ROUTERS=[ROUTER_PATH]),
    False: override_settings(DATABASE_ROUTERS=[]),
}
_routed: list[bool] = []


def use(case: str) -> None:
    routed = case != "no_router"
    if _routed != [routed]:
        if _routed:
            ROUTERS[_routed.pop()].disable()
        ROUTERS[routed].enable()
        _routed.append(routed)
    for alias, wrapper in WRAPPERS.items():
        wrappers = connections[alias].execute_wrappers
        if case == "metrics_on" and wrapper not in wrappers:
            wrappers.insert(0, wrapper)
        elif case != "metrics_on" and wrapper in wrappers:
            wrappers.remove(wrapper)


QUERIES = {
    "pk_lookup": ("objects.get(pk='key0042')", 2000),
    "list_100": ("list(objects.all()[:100])", 300),
}
CASES = ("no_router", "metrics_off", "metrics_on")


def timed() -> dict[str, object]:
    took = {name: {case: [] for case in CASES} for name in QUERIES}  # type: ignore[var-annotated]
    for round_number in range(15):
        order = CASES if round_number % 2 else tuple(reversed(CASES))
        for case in order:
            use(case)
            for name, (statement, number) in QUERIES.items():
                timer = timeit.Timer(statement, globals={"objects": Session.objects})
                took[name][case].append(timer.timeit(number) / number * 1e6)
    result: dict[str, object] = {}
    for name, cases in took.items():
        result[name] = {
            **{f"{case}_us": round(statistics.median(cases[case]), 2) for case in CASES},
            "on_vs_off": round(
                statistics.median(
                    on / off
                    for on, off in zip(cases["metrics_on"], cases["metrics_off"], strict=True)
                ),
                4,
            ),
            "off_vs_no_router": round(
                statistics.median(
                    off / none
                    for off, none in zip(cases["metrics_off"], cases["no_router"], strict=True)
                ),
                4,
            ),
        }
    return result


def count_mode() -> None:
    """``count CASE QUERY N``: only N such queries (run under valgrind by ``instructions``)."""
    case, name, calls = sys.argv[3], sys.argv[4], int(sys.argv[5])
    use(case)
    objects = Session.objects
    objects.get(pk="key0042")
    gc.disable()
    exec(
        compile(f"for _ in range({calls}):\n    {QUERIES[name][0]}", "<count>", "exec"),
        {"objects": objects},
    )


def instructions(case: str, name: str, calls: int) -> int:
    return counted_instructions([__file__, ENGINE, "count", case, name, str(calls)])


def counted() -> dict[str, object]:
    name, calls = (sys.argv[3], int(sys.argv[4])) if len(sys.argv) > 4 else ("pk_lookup", 200)
    jobs = [(case, n) for case in CASES for n in (calls, 3 * calls)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        found = dict(
            zip(jobs, pool.map(lambda job: instructions(job[0], name, job[1]), jobs), strict=False)
        )
    per_query = {
        case: round((found[(case, 3 * calls)] - found[(case, calls)]) / (2 * calls))
        for case in CASES
    }
    return {
        "query": name,
        **{f"{case}_instructions": count for case, count in per_query.items()},
        "on_vs_off": round(per_query["metrics_on"] / per_query["metrics_off"], 4),
        "off_vs_no_router": round(per_query["metrics_off"] / per_query["no_router"], 4),
    }


try:
    if sys.argv[2:3] == ["count"]:
        count_mode()
    elif sys.argv[2:3] == ["instructions"]:
        print(json.dumps({"engine": ENGINE, **counted()}))
    else:
        print(json.dumps({"engine": ENGINE, **timed()}))
finally:
    if _routed:
        ROUTERS[_routed.pop()].disable()
    with connection.schema_editor() as editor:
        editor.delete_model(Session)
