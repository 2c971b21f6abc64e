"""Nanoseconds per routing decision through Django's ``router``, one variant per process.

    python benchmarks/router_cost.py VARIANT [idle|read|write|save N]

VARIANT: ``django`` (no routers), ``rules`` (django_cfg, app rules), ``replicas`` (+ a replica;
SQLite, so read-your-writes markers are time windows), ``postgres`` (the same on PostgreSQL, whose
markers wait for a WAL position), ``pinned`` (``replicas`` after a write: reads stay on the
primary) or ``multidb`` (django-multidb-router's PinningReplicaRouter). Every variant goes
through Django's own router loop (django_cfg's router is an ordinary router).

The model is ``ContentType``, an ordinary model whose home has the replica (``auth`` and
``sessions`` always read their primary: ``ReplicaOptions.primary_reads``).

Prints one JSON line: ns per ``router.db_for_read(Model)`` and ``db_for_write(Model)``, the best
of 7 repeats of 200,000 calls (timeit's advice: slower repeats are other processes' doing, not
the code's), with the alias each call returned. Reads are timed first, so a write's
read-your-writes marker never pins them (except in ``pinned``, which sets one on purpose).

``save``: ``db_for_write(Model, instance=obj)``, what ``Model.save()`` passes (``obj`` as loaded
from ``default``, its home). With ``idle|read|write|save N`` it only makes N such calls (none
for ``idle``) and prints nothing:
``run.py`` runs that under ``valgrind --tool=callgrind``, and (read - idle) / N is the number of
instructions per call, a count this machine's noise cannot move.
"""

from __future__ import annotations

import json
import sys
import timeit

import django
from django.conf import settings

VARIANT = sys.argv[1]
SQLITE = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions"]


def configure() -> None:
    if VARIANT in {"django", "multidb"}:
        routers = ["multidb.PinningReplicaRouter"] if VARIANT == "multidb" else []
        settings.configure(
            INSTALLED_APPS=APPS,
            DATABASES={"default": SQLITE, "replica": {**SQLITE, "TEST": {"MIRROR": "default"}}},
            DATABASE_ROUTERS=routers,
            REPLICA_DATABASES=["replica"],
        )
        return
    from django_cfg import DatabaseConfig, DjangoConfig

    databases = {
        "default": DatabaseConfig.from_url("sqlite://"),
        "blog_db": DatabaseConfig.from_url("sqlite://", apps=["sessions"]),
        "shop_db": DatabaseConfig.from_url("sqlite://", apps=["shop"]),
    }
    if VARIANT in {"replicas", "pinned"}:
        databases["replica"] = DatabaseConfig.from_url("sqlite://", replica_of="default")
    if VARIANT == "postgres":  # routing never connects here: no server is needed
        databases["default"] = DatabaseConfig.from_url("postgresql://u@127.0.0.1:5432/bench")
        databases["replica"] = DatabaseConfig.from_url(
            "postgresql://u@127.0.0.1:5433/bench", replica_of="default"
        )
    rendered = DjangoConfig(databases=databases, contrib_apps=APPS).get_all_settings()
    rendered["DATABASE_ROUTING_RULES"] = {"sessions": "blog_db", "shop": "shop_db"}
    settings.configure(**rendered)


configure()
django.setup()

from django.contrib.contenttypes.models import ContentType as Model  # noqa: E402
from django.db import router  # noqa: E402

if VARIANT == "pinned":
    router.db_for_write(Model)  # read-your-writes state: this context wrote to default

CALLS = 200_000
router.db_for_read(Model)  # builds the routers outside the timing (a write would pin reads)

loaded = Model(app_label="shop", model="order")
loaded._state.db = "default"  # as a row read from its home: what save() passes as the hint

if len(sys.argv) == 4:
    mode = sys.argv[2]
    call = {"idle": None, "read": router.db_for_read, "write": router.db_for_write}.get(mode)
    if mode == "save":  # only here: a write before the reads would pin them to the primary
        for _ in range(int(sys.argv[3])):
            router.db_for_write(Model, instance=loaded)
    for _ in range(int(sys.argv[3]) if call else 0):
        call(Model)  # type: ignore[misc]
    sys.exit()


def per_call(statement: str) -> float:
    timer = timeit.Timer(statement, globals={"router": router, "Model": Model})
    return min(timer.repeat(repeat=7, number=CALLS)) / CALLS * 1e9


result = {"variant": VARIANT, "read_alias": router.db_for_read(Model)}
result["read_ns"] = round(per_call("router.db_for_read(Model)"), 1)
result["write_alias"] = router.db_for_write(Model)
result["write_ns"] = round(per_call("router.db_for_write(Model)"), 1)
timer = timeit.Timer("router.db_for_write(Model, instance=loaded)", globals=globals())
result["save_ns"] = round(min(timer.repeat(repeat=7, number=CALLS)) / CALLS * 1e9, 1)
print(json.dumps(result))
