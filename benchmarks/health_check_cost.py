"""Instructions per request of a kept or pooled PostgreSQL connection with health checks on:
Django's own checks against patch 10's, which wait at most ``connect_timeout`` (issue 21
point 4, ``state/answer_deadline.py``), side by side in one run.

    python benchmarks/health_check_cost.py [N]                  # the table (valgrind)
    python benchmarks/health_check_cost.py count MODE CHECKS N  # one process: N requests

MODE: ``kept`` (``conn_max_age=60`` + ``conn_health_checks``: Django's ``is_usable()``, a
``SELECT 1`` before the first statement of each request) or ``pool`` (``pool=true``:
psycopg_pool's ``check`` on each ``getconn()``). CHECKS: ``django`` (Django's and
psycopg_pool's own checks, patch 10 not installed) or ``bounded`` (patch 10). One request:
``request_started``, one pk lookup, ``request_finished`` (Django's handlers check, close or
return the connection as for a view). Instructions per request by valgrind (callgrind) of
this process only (the server's work is not counted), (count at 3N - count at N) / 2N,
garbage collector off.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

from run import counted_instructions
from session_project import POSTGRES_URL, rendered

MODES = {"kept": "?conn_max_age=60&conn_health_checks=true", "pool": "?pool=true"}
CHECKS = ("django", "bounded")


def count(mode: str, checks: str, requests: int) -> None:
    """Sets up Django with ``mode``'s database, then runs ``requests`` requests."""
    import django
    from django.conf import settings

    from django_cfg import DatabaseConfig, patches

    if checks == "django":  # patch 10 not needed: Django's and psycopg_pool's own checks
        patches.keeps_postgresql_connections = lambda *_: False  # type: ignore[assignment]
    databases = {"default": DatabaseConfig.from_url(POSTGRES_URL + MODES[mode])}
    settings.configure(**rendered(databases), DJANGO_CFG_QUERY_METRICS=False)
    django.setup()
    from django.contrib.sessions.models import Session
    from django.core.signals import request_finished, request_started
    from django.db import connection

    bounded = "django.db.backends.postgresql.base.DatabaseWrapper.is_usable" in (
        patches.installed()
    )
    assert bounded == (checks == "bounded"), patches.installed()
    objects = Session.objects
    objects.filter(pk="none").first()  # the table exists (created by the parent)
    gc.disable()
    for _ in range(requests):
        request_started.send(sender=None)
        objects.filter(pk="key0042").first()
        request_finished.send(sender=None)
    connection.close()


def instructions(mode: str, checks: str, requests: int) -> int:
    return counted_instructions([__file__, "count", mode, checks, str(requests)])


def session_table() -> None:
    """django_session in the benchmark database, with the one row the requests read."""
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True) as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS django_session (session_key varchar(40) PRIMARY KEY, "
            "session_data text NOT NULL, expire_date timestamptz NOT NULL)"
        )
        db.execute(
            "INSERT INTO django_session VALUES ('key0042', 'x', now()) ON CONFLICT DO NOTHING"
        )


def counted(requests: int) -> dict[str, object]:
    session_table()
    jobs = [(m, c, n) for m in MODES for c in CHECKS for n in (requests, 3 * requests)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        found = dict(zip(jobs, pool.map(lambda job: instructions(*job), jobs), strict=True))
    result: dict[str, object] = {"requests": requests}
    for mode in MODES:
        per_request = {
            checks: (found[(mode, checks, 3 * requests)] - found[(mode, checks, requests)])
            // (2 * requests)
            for checks in CHECKS
        }
        result[mode] = {
            **per_request,
            "bounded_vs_django": round(per_request["bounded"] / per_request["django"], 4),
        }
    return result


if __name__ == "__main__":
    if sys.argv[1:2] == ["count"]:
        count(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        print(json.dumps(counted(int(sys.argv[1]) if len(sys.argv) > 1 else 200)))
