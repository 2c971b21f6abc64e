"""Microseconds per ORM query, with django_cfg's router or with no router, one case per process.

    python benchmarks/orm_overhead.py sqlite|postgres router|none

Prints one JSON line: median us of a primary-key lookup and of a 100-row list (7 repeats).
PostgreSQL uses DJANGO_CFG_BENCH_POSTGRES_URL (default: a django_cfg_bench database on 5432).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import timeit

import django
from django.conf import settings

ENGINE, ROUTER = sys.argv[1], sys.argv[2]
POSTGRES_URL = os.environ.get(
    "DJANGO_CFG_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/django_cfg_bench"
)

from django_cfg import DatabaseConfig, DjangoConfig  # noqa: E402

main = DatabaseConfig.from_url("sqlite://" if ENGINE == "sqlite" else POSTGRES_URL)
databases = {"default": main, "blog_db": DatabaseConfig.from_url("sqlite://", apps=["blog"])}
rendered = DjangoConfig(
    databases=databases, contrib_apps=["django.contrib.sessions"]
).get_all_settings()
if ROUTER == "none":
    rendered["DATABASE_ROUTERS"] = []
settings.configure(**rendered)
django.setup()

from django.contrib.sessions.models import Session  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

with connection.schema_editor() as editor:
    if Session._meta.db_table in connection.introspection.table_names():
        editor.delete_model(Session)
    editor.create_model(Session)
expires = timezone.now()
Session.objects.bulk_create(
    Session(session_key=f"key{i:04d}", session_data="x" * 40, expire_date=expires)
    for i in range(100)
)


def median_us(statement: str, number: int) -> float:
    timer = timeit.Timer(statement, globals={"Session": Session})
    return statistics.median(timer.repeat(repeat=7, number=number)) / number * 1e6


result = {
    "engine": ENGINE,
    "router": ROUTER,
    "pk_lookup_us": round(median_us("Session.objects.get(pk='key0042')", 2000), 2),
    "list_100_us": round(median_us("list(Session.objects.all()[:100])", 300), 2),
}
with connection.schema_editor() as editor:
    editor.delete_model(Session)
print(json.dumps(result))
