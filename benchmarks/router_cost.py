"""Nanoseconds per routing decision through Django's ``router``, one variant per process.

    python benchmarks/router_cost.py django|rules|replicas|pinned|multidb

Prints one JSON line: median ns per ``router.db_for_read(Model)`` and ``db_for_write(Model)``
over 7 repeats of 200,000 calls, with the alias each call returned.
"""

from __future__ import annotations

import json
import statistics
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
    rendered = DjangoConfig(databases=databases, contrib_apps=APPS).get_all_settings()
    rendered["DATABASE_ROUTING_RULES"] = {"sessions": "blog_db", "shop": "shop_db"}
    settings.configure(**rendered)


configure()
django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.db import router  # noqa: E402

if VARIANT == "pinned":
    from django_cfg.databases import pinning

    pinning.note_write("default")  # read-your-writes state: this context wrote to default

CALLS = 200_000
router.db_for_read(User)  # builds the routers outside the timing (a write would pin reads)


def per_call(statement: str) -> float:
    timer = timeit.Timer(statement, globals={"router": router, "User": User})
    return statistics.median(timer.repeat(repeat=7, number=CALLS)) / CALLS * 1e9


print(
    json.dumps(
        {
            "variant": VARIANT,
            "read_ns": round(per_call("router.db_for_read(User)"), 1),
            "write_ns": round(per_call("router.db_for_write(User)"), 1),
            "read_alias": router.db_for_read(User),
            "write_alias": router.db_for_write(User),
        }
    )
)
