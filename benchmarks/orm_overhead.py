"""Microseconds per ORM query with django_cfg's router and with no router, side by side.

    python benchmarks/orm_overhead.py sqlite|postgres [count CASE pk_lookup|list_100 N]

One process, one table, a replica configured (SQLite: a second connection to the same file;
PostgreSQL: the streaming replica on 5433, DJANGO_CFG_BENCH_REPLICA_URL), DEBUG off as in
production (DEBUG's query log would add to every query alike and dilute the router's share).
With the router, reads go to the replica alias, as they do in a project with a replica.

CASE (``count`` only; the timed run alternates ``none`` and ``router``):

- ``none``: no router; the query reads ``default`` (Django's loop over no routers);
- ``router``: django_cfg's router; the query reads ``replica`` (its backend, its server);
- ``using:ALIAS``: no router and no routing call at all, the manager bound to ALIAS
  (``Session.objects.db_manager(ALIAS)``, the same query path as ``none`` otherwise):
  ``using:replica`` minus ``using:default`` is what reading the replica alias costs without
  any router (its backend, its server); ``using:replica`` minus ``using:replica_plain`` (the
  replica's server through Django's own backend) is the failover backend's share of that.

So the router's own overhead is ``router - none - (using:replica - using:default)``: the same
query, with and without the router, on the same backend for the same alias.

The two timed cases alternate over 10 rounds (each going first in half of them), so the
machine's load falls on both alike; the router is switched on and off with
``override_settings(DATABASE_ROUTERS=...)``. Prints one JSON line: for a primary-key lookup and
a 100-row list, each case's median round (us per query) and the ratio of each round. With
``count ...`` it makes N queries and prints nothing: run.py counts their instructions with
valgrind at two N and divides the difference, so one-off costs (connecting, the override's
runtime rebuild, the first query's compilation) cancel out; the garbage collector is off
during those queries (where a collection falls would move a case by thousands).
PostgreSQL uses DJANGO_CFG_BENCH_POSTGRES_URL (default: a django_cfg_bench database on 5432).
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import time
import timeit

import django
from django.conf import settings
from session_project import primary_and_replica, rendered

from django_cfg import DatabaseConfig

ENGINE = sys.argv[1]
main_url, replica_url = primary_and_replica(ENGINE)
databases = {
    "default": DatabaseConfig.from_url(main_url),
    "replica": DatabaseConfig.from_url(replica_url, replica_of="default"),
    "blog_db": DatabaseConfig.from_url("sqlite://", apps=["blog"]),
    # The replica's server through Django's own backend (no replica role, so no failover).
    "replica_plain": DatabaseConfig.from_url(replica_url),
}
# Session stands for an ordinary replicated model: its app is taken out of the apps that always
# read their primary (replica_primary_reads), so its reads go to the replica.
settings.configure(**rendered(databases, replica_primary_reads=("auth",)))
django.setup()

from django.contrib.sessions.models import Session  # noqa: E402
from django.db import connection, connections, router  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from django_cfg.routing.router import DatabaseRouter  # noqa: E402
from django_cfg.settings.routers import ROUTER_PATH  # noqa: E402
from django_cfg.state.pins import set_write  # noqa: E402
from django_cfg.state.wal import replayed_position, written_position  # noqa: E402

Session._meta.db_table = f"bench_session_{os.getpid()}"  # processes may run side by side
with connection.schema_editor() as editor:
    editor.create_model(Session)
expires = timezone.now()
Session.objects.bulk_create(
    Session(session_key=f"key{i:04d}", session_data="x" * 40, expire_date=expires)
    for i in range(100)
)
assert [type(r) for r in router.routers] == [DatabaseRouter]
if ENGINE == "postgres":  # the replica has the table and its rows before any read
    with connection.cursor() as primary, connections["replica"].cursor() as replica:
        written = written_position(primary)
        while (replayed_position(replica) or 0) < (written or 0):
            time.sleep(0.01)
if not os.environ.get("BENCH_KEEP_PIN"):  # BENCH_KEEP_PIN=1: reads stay pinned by the writes
    set_write("default", None)  # the setup's writes pin nothing: the timed reads are a new request
assert Session.objects.count() == 100  # through the router: from the replica
assert router.db_for_read(Session) == "replica"
ROUTERS = {
    True: override_settings(DATABASE_ROUTERS=[ROUTER_PATH]),
    False: override_settings(DATABASE_ROUTERS=[]),
}
_routed: list[bool] = []


def use_router(on: bool) -> None:
    """Django's own switch: override_settings (both cases, so both read settings through the
    same override), whose setting_changed rebuilds Django's router list."""
    if _routed != [on]:
        if _routed:
            ROUTERS[_routed.pop()].disable()
        ROUTERS[on].enable()
        _routed.append(on)


QUERIES = {
    "pk_lookup": ("objects.get(pk='key0042')", 2000),
    "list_100": ("list(objects.all()[:100])", 300),
}


def count_mode() -> None:
    """``count CASE QUERY N``: only N such queries (run under valgrind by run.py)."""
    case, name, calls = sys.argv[3], sys.argv[4], int(sys.argv[5])
    use_router(case == "router")
    objects = Session.objects
    alias = {"none": "default", "router": "replica"}.get(case, case.removeprefix("using:"))
    if case.startswith("using:"):
        objects = objects.db_manager(alias)
    assert objects.get(pk="key0042")._state.db == alias  # the alias each case is meant to read
    gc.disable()  # a collection falls between the two N of one case and not another's: noise
    exec(
        compile(f"for _ in range({calls}):\n    {QUERIES[name][0]}", "<count>", "exec"),
        {"objects": objects},
    )


def timed() -> dict[str, object]:
    took: dict[str, dict[str, list[float]]] = {n: {"none": [], "router": []} for n in QUERIES}
    for round_number in range(10):
        for case in ("none", "router") if round_number % 2 else ("router", "none"):
            use_router(case == "router")
            for name, (statement, number) in QUERIES.items():
                timer = timeit.Timer(statement, globals={"objects": Session.objects})
                took[name][case].append(timer.timeit(number) / number * 1e6)
    return {
        name: {
            "none_us": round(statistics.median(cases["none"]), 2),
            "router_us": round(statistics.median(cases["router"]), 2),
            "ratios": [
                round(r / n, 4) for r, n in zip(cases["router"], cases["none"], strict=True)
            ],
        }
        for name, cases in took.items()
    }


try:
    if sys.argv[2:3] == ["count"]:
        count_mode()
    else:
        print(json.dumps({"engine": ENGINE, **timed()}))
finally:
    if _routed:
        ROUTERS[_routed.pop()].disable()
    with connection.schema_editor() as editor:
        editor.delete_model(Session)
