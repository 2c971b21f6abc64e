"""How reads behave on a real streaming replica, django_cfg's router vs the spec's router.

    python benchmarks/replica_behaviour.py stale|outage ours|spec

``ours``: ``replica_of="default", read_weight=0.8``. ``spec``: the spec page's Example 2 router,
which sends 80% of reads to ``replica`` at random. Each read asks the server itself whether it is
the standby (``pg_is_in_recovery()``), so "served by" is what happened, not what a router said.

- ``stale``: replay paused on the replica, 200 rounds of "write a row, read it back" (each round
  a new request context); counts the reads that did not find their row, and where a context
  that wrote nothing read a row from before the pause.
- ``outage``: 4 reader threads, each read one "request" (Django's request_started/finished
  handling of connections around it, persistent connections); the replica is stopped
  (``pg_ctl stop -m fast``) for 3 s, then started again; counts failed reads, how long reads
  took to move to the primary, and how long they took to come back to the standby after the
  restart (the first reader, and all of them).

Prints one JSON line. The primary and its hot standby are the run's own
(tests/support/private_standby.py: initdb, ``pg_basebackup -R``, free ports, about 3 s to
build), never the shared 5432/5433: other sessions read from those, and a run killed while the
replica was stopped or paused would leave it so.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import json
import random
import sys
import uuid
from pathlib import Path
from typing import Any

import django
from django.conf import settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.support

from tests.support.private_standby import private_standby
from tests.support.standby_outage import read_through_outage

MODE, ROUTER = sys.argv[1], sys.argv[2]
ROUNDS, READERS, OUTAGE_SECONDS = 200, 4, 3.0
_servers = contextlib.ExitStack()
atexit.register(_servers.close)  # the servers are stopped and removed however the run ends
PAIR = _servers.enter_context(private_standby("django_cfg_bench"))
POSTGRES_URL, REPLICA_URL = PAIR.primary_url, PAIR.standby_url


class SpecReadReplicaRouter:
    """The specification page's ReadReplicaRouter (Example 2)."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return "replica" if random.random() < 0.8 else "default"

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return "default"


def configure() -> None:
    from django_cfg import DatabaseConfig, DjangoConfig

    if ROUTER == "ours":
        replica = DatabaseConfig.from_url(
            REPLICA_URL, replica_of="default", read_weight=0.8, conn_max_age=60
        )
        routers: list[str] = []
    else:
        replica = DatabaseConfig.from_url(REPLICA_URL, conn_max_age=60)
        routers = ["__main__.SpecReadReplicaRouter"]
    primary = DatabaseConfig.from_url(POSTGRES_URL, conn_max_age=60)
    config = DjangoConfig(
        databases={"default": primary, "replica": replica},
        # The rows read are sessions, which read the primary by default (replica_primary_reads):
        # here they stand for any replicated model, so the read weight decides.
        replica_primary_reads=(),
        database_routers=routers,
        contrib_apps=["django.contrib.contenttypes", "django.contrib.sessions"],
    )
    settings.configure(**config.get_all_settings())


configure()
django.setup()

from django.contrib.sessions.models import Session  # noqa: E402
from django.db import close_old_connections, connection  # noqa: E402
from django.utils import timezone  # noqa: E402


def new_row() -> str:
    key = uuid.uuid4().hex
    Session.objects.create(session_key=key, session_data="x", expire_date=timezone.now())
    return key


def read(key: str) -> str | None:
    """'standby' or 'primary' (who answered), None when the row was not there."""
    answer = list(
        Session.objects.filter(pk=key)
        .extra(select={"standby": "pg_is_in_recovery()"})
        .values_list("standby", flat=True)
    )
    return ("standby" if answer[0] else "primary") if answer else None


def in_new_context(function: Any, *args: Any) -> Any:
    """One request, task or thread: its own read-your-writes state."""
    return contextvars.Context().run(function, *args)


def stale() -> dict[str, Any]:
    old = new_row()  # replicated before the pause: any context may read it from the standby
    PAIR.wait_for_standby()
    served = {"standby": 0, "primary": 0, None: 0}
    old_on_standby = 0
    with PAIR.replay_paused():
        for _ in range(ROUNDS):
            served[in_new_context(lambda: read(new_row()))] += 1
            old_on_standby += in_new_context(read, old) == "standby"
    PAIR.wait_for_standby()
    return {
        "rounds": ROUNDS,
        "stale": served[None],
        "standby": served["standby"],
        "primary": served["primary"],
        "old_row_on_standby": old_on_standby,
    }


def outage() -> dict[str, Any]:
    key = new_row()
    PAIR.wait_for_standby()

    def request() -> str | None:
        close_old_connections()  # a request starts
        try:
            return read(key)
        finally:
            close_old_connections()  # the request ends

    run = read_through_outage(request, PAIR, READERS, before=1.0, outage=OUTAGE_SECONDS)
    during = [r for r in run.reads if run.stopping <= r.started < run.restarted]
    first_on_primary = min(
        (r.finished for r in run.reads if r.started >= run.stopping and r.served_by == "primary"),
        default=None,
    )
    back = run.back_on_standby()
    return {
        "reads": len(run.reads),
        "reads_during_outage": len(during),
        "failed_during_outage": sum(r.served_by is None for r in during),
        "failed_total": len(run.errors),
        "stop_seconds": round(run.stopped - run.stopping, 3),
        "to_primary_seconds": None
        if first_on_primary is None
        else round(first_on_primary - run.stopping, 3),
        "first_back_seconds": round(min(back.values()) - run.restarted, 3) if back else None,
        "all_back_seconds": round(max(back.values()) - run.restarted, 3)
        if len(back) == READERS
        else None,
        "slowest_read_seconds": round(max(r.finished - r.started for r in run.reads), 3),
    }


with connection.schema_editor() as editor:
    if Session._meta.db_table not in connection.introspection.table_names():
        editor.create_model(Session)
PAIR.wait_for_standby()
print(json.dumps({"mode": MODE, "router": ROUTER, **{"stale": stale, "outage": outage}[MODE]()}))
