"""Read replicas on the real streaming replica (PostgreSQL 5432 -> 5433), never skipped in CI.

The ``pg_people`` app lives on ``postgres``, whose replica is ``replica``. Writes must be
committed to reach the replica, so these tests run in transaction mode. Which database served a
read is read from the row itself (``_state.db``) and, for the replica alias, from whether its
connection is really to the standby.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from django.apps import apps
from django.conf import settings
from django.db import connections, router, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from django_cfg import use_primary
from django_cfg.routing.read_only import ReadOnlyDatabaseError
from django_cfg.runtime.runtime import current_runtime, rebuild_runtime
from django_cfg.schema.status import database_statuses, probe
from tests.support.private_postgres import free_port
from tests.support.private_standby import StandbyPair, private_standby
from tests.support.replica_tools import (
    replay_paused,
    start_replica,
    terminate_on_replica,
    wait_for_replica,
)
from tests.support.standby_outage import read_through_outage

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.replica,
    pytest.mark.django_db(
        transaction=True, databases=["default", "postgres", "replica", "analytics"]
    ),
]


def person_model() -> Any:
    return apps.get_model("pg_people", "Person")


def replica_role(**options: Any) -> dict[str, Any]:
    roles = dict(settings.DATABASE_ROLES)
    roles["replica"] = {"replica_of": "postgres", **options}
    return roles


@pytest.fixture
def replicated(transactional_db: None) -> Iterator[None]:
    start_replica()
    wait_for_replica()
    with override_settings(
        DATABASE_REPLICA_OPTIONS={"probe_interval": 0.2, "retry_interval": 1.0, "pin_seconds": 5}
    ):
        yield
        close_monitor()
    close_monitor()
    # An open replica session would stall replay of the primary's TRUNCATE at teardown, and an
    # open session of a mirror alias would keep the test database from being dropped.
    connections["replica"].close()
    connections["analytics"].close()
    # The async ORM ran in asgiref's worker thread: close that thread's connections too.
    asyncio.run(sync_to_async(connections.close_all)())


def close_monitor() -> None:
    """Close the monitor's own probe connections (they would keep the test database busy)."""
    monitor = current_runtime().monitor
    if monitor is not None:
        monitor.close()


@pytest.fixture
def private_replica(replicated: None) -> Iterator[StandbyPair]:
    """``postgres`` and its ``replica`` on a private primary + standby of the test's own (the
    same test database name, the Person table), back on the shared servers after the test: an
    outage stops the private standby, never the shared 5433 other sessions read from."""
    name = connections["postgres"].settings_dict["NAME"]
    with private_standby(name) as pair, aliases_on(pair):
        with connections["postgres"].schema_editor() as editor:
            editor.create_model(person_model())
        pair.wait_for_standby()
        yield pair


@contextlib.contextmanager
def aliases_on(pair: StandbyPair) -> Iterator[None]:
    """Every thread's ``postgres`` and ``replica`` connect to ``pair`` inside the block (each
    connection wrapper reads the one ``connections.settings`` entry of its alias); the runtime
    is rebuilt each way, so the replica monitor probes the servers the aliases name."""
    ports = {"postgres": pair.primary_port, "replica": pair.standby_port}
    entries = {alias: connections.settings[alias] for alias in ports}
    saved = {alias: (entry["HOST"], entry["PORT"]) for alias, entry in entries.items()}
    for alias, port in ports.items():
        connections[alias].close()
        entries[alias].update(HOST="127.0.0.1", PORT=str(port))
    rebuild_runtime()
    try:
        yield
    finally:
        close_monitor()
        for alias, (host, port) in saved.items():
            connections[alias].close()
            entries[alias].update(HOST=host, PORT=port)
        rebuild_runtime()


def in_new_context(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ``function`` in a context that has written nothing (no read-your-writes pin)."""
    return contextvars.Context().run(function, *args, **kwargs)


def served_by(row: Any) -> str:
    """'standby' when the row came from the real replica, else 'primary'."""
    if row._state.db == "replica" and not connections["replica"].serving_primary:
        return "standby"
    return "primary"


def test_the_replica_alias_is_the_real_standby(replicated: None) -> None:
    with connections["replica"].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), inet_server_port()")
        assert cursor.fetchone() == (True, 5433)
    with connections["postgres"].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), inet_server_port()")
        assert cursor.fetchone() == (False, 5432)


def test_reads_split_by_weight(replicated: None) -> None:
    person = in_new_context(person_model().objects.create, name="weighted")
    wait_for_replica()
    reads = 2000
    with override_settings(DATABASE_ROLES=replica_role(read_weight=0.8)):
        served = Counter(served_by(person_model().objects.get(pk=person.pk)) for _ in range(reads))
    share = served["standby"] / reads
    assert 0.76 <= share <= 0.84, served  # 0.8 +- 4 points (more than 4 standard deviations)
    assert served["standby"] + served["primary"] == reads


def test_read_your_writes_in_one_context_while_replay_is_paused(replicated: None) -> None:
    Person = person_model()
    stale = 0
    with replay_paused():
        for i in range(100):
            created = Person.objects.create(name=f"ryw {i}")
            found = Person.objects.filter(pk=created.pk).first()
            if found is None:
                stale += 1
            else:
                assert served_by(found) == "primary"
        # A context that wrote nothing reads the paused replica, which has none of them.
        assert in_new_context(Person.objects.filter(name__startswith="ryw ").count) == 0
    assert stale == 0
    wait_for_replica()
    # Once the replica has replayed the writes, reads go back to it as soon as the monitor looks
    # (at most every tenth of the probe interval: 20 ms here).
    assert eventually_served_by_standby(lambda: Person.objects.get(name="ryw 99"))


def eventually_served_by_standby(read: Any, within: float = 1.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if served_by(read()) == "standby":
            return True
    return False


def test_read_your_writes_across_requests_through_the_middleware(replicated: None) -> None:
    writer, stranger = Client(), Client()
    stale = 0
    with replay_paused():
        for i in range(20):
            response = writer.post("/people/", {"name": f"web {i}"})
            pk = response.json()["pk"]
            read = writer.get(f"/people/{pk}/")  # the next request, with the cookie
            if read.status_code == 404:
                stale += 1
            else:
                assert read.json()["database"] == "postgres"
            assert stranger.get(f"/people/{pk}/").status_code == 404  # the stale replica
        assert "django_cfg_pins" in writer.cookies
    assert stale == 0
    wait_for_replica()
    answer = stranger.get(f"/people/{pk}/")
    assert answer.status_code == 200
    assert answer.json()["database"] == "replica"


def test_reads_inside_atomic_see_uncommitted_rows(replicated: None) -> None:
    Person = person_model()
    with transaction.atomic(using="postgres"):
        created = Person.objects.create(name=f"atomic {uuid.uuid4().hex}")
        found = in_new_context(Person.objects.get, pk=created.pk)  # no pin: atomic alone
        assert served_by(found) == "primary"
    monitor = current_runtime().monitor
    assert monitor is not None
    assert monitor.counters["primary:atomic"] >= 1


def test_use_primary_nests_and_decorates_sync_and_async(replicated: None) -> None:
    person = in_new_context(person_model().objects.create, name="pinned")
    wait_for_replica()

    def read() -> str:
        return str(router.db_for_read(person_model()))

    @use_primary()
    def decorated() -> str:
        return read()

    @use_primary()
    async def decorated_async() -> str:
        return str((await person_model().objects.aget(pk=person.pk))._state.db)

    def scenario() -> list[str]:
        seen = [read()]
        with use_primary():
            with use_primary():
                seen.append(read())
            seen.append(read())  # still inside the outer block
        seen += [read(), decorated(), asyncio.run(decorated_async()), read()]
        return seen

    assert in_new_context(scenario) == [
        "replica",
        "postgres",
        "postgres",
        "replica",
        "postgres",
        "postgres",
        "replica",
    ]


def test_async_tasks_route_independently(replicated: None) -> None:
    Person = person_model()
    existing = in_new_context(Person.objects.create, name="async")
    wait_for_replica()

    async def main() -> dict[str, str]:
        inside = asyncio.Event()
        done = asyncio.Event()

        async def pinned() -> str:
            async with use_primary():
                inside.set()
                row = await Person.objects.aget(pk=existing.pk)
                await done.wait()  # stay pinned while the others read
                return str(row._state.db)

        async def free() -> str:
            await inside.wait()
            return str((await Person.objects.aget(pk=existing.pk))._state.db)

        async def writer() -> str:
            await inside.wait()
            created = await Person.objects.acreate(name="written by a task")
            return str((await Person.objects.aget(pk=created.pk))._state.db)

        async def finish(*tasks: asyncio.Task[str]) -> None:
            await asyncio.gather(*tasks)
            done.set()

        names = ["free", "writer", "free too"]
        tasks = [asyncio.create_task(c) for c in (free(), writer(), free())]
        pinned_task = asyncio.create_task(pinned())
        await finish(*tasks)
        return {
            "pinned": await pinned_task,
            **dict(zip(names, [t.result() for t in tasks], strict=True)),
        }

    with replay_paused():
        results = in_new_context(asyncio.run, main())
    assert results == {
        "pinned": "postgres",
        "free": "replica",
        "writer": "postgres",  # read-your-writes: the paused replica cannot have it
        "free too": "replica",
    }


@pytest.mark.parametrize("bound", [{"max_lag_bytes": 1}, {"max_lag_seconds": 0.3}])
def test_lagging_replica_is_skipped_within_a_probe_interval_and_returns(
    replicated: None, bound: dict[str, float]
) -> None:
    Person = person_model()
    person = in_new_context(Person.objects.create, name="lag")
    wait_for_replica()
    interval = 0.2
    with override_settings(DATABASE_ROLES=replica_role(**bound)):
        assert in_new_context(lambda: served_by(Person.objects.get(pk=person.pk))) == "standby"
        with replay_paused():
            in_new_context(Person.objects.create, name="makes the replica lag")
            time.sleep(bound.get("max_lag_seconds", 0) + interval)  # the bound, then one probe
            served = {in_new_context(lambda: served_by(Person.objects.get(pk=person.pk)))}
            served |= {in_new_context(lambda: served_by(Person.objects.get(pk=person.pk)))}
            assert served == {"primary"}
        wait_for_replica()
        # It returns at a probe after it caught up: one interval on a quiet machine; polled
        # (at most 50 intervals) because a loaded machine delays the probe's samples.
        read_again = "primary"
        for _probe in range(50):
            time.sleep(interval)
            read_again = in_new_context(lambda: served_by(Person.objects.get(pk=person.pk)))
            if read_again == "standby":
                break
        assert read_again == "standby"
    monitor = current_runtime().monitor
    assert monitor is not None


def test_replica_outage_fails_no_read_and_every_reader_comes_back(
    private_replica: StandbyPair,
) -> None:
    Person = person_model()
    person = in_new_context(Person.objects.create, name="outage")
    private_replica.wait_for_standby()
    with connections["replica"].cursor() as cursor:  # the private standby, not the shared one
        cursor.execute("SELECT pg_is_in_recovery(), inet_server_port()")
        assert cursor.fetchone() == (True, private_replica.standby_port)

    run = read_through_outage(
        lambda: served_by(Person.objects.get(pk=person.pk)),
        private_replica,
        readers=4,
        before=0.3,
        outage=1.0,
    )

    assert run.errors == []
    assert any(r.started < run.stopping and r.served_by == "standby" for r in run.reads)
    assert any(
        run.stopping < r.started < run.restarted and r.served_by == "primary" for r in run.reads
    )
    # Every reader, including those whose replica connection was serving the primary:
    assert set(run.back_on_standby()) == set(range(4))
    assert max(r.finished - r.started for r in run.reads) < 10  # no read hangs (timeout 2 s)


@pytest.mark.parametrize("logged", [False, True], ids=["cursor", "debug_cursor"])
def test_a_read_whose_replica_connection_dies_is_run_again_on_the_primary(
    replicated: None, logged: bool
) -> None:
    Person = person_model()
    person = in_new_context(Person.objects.create, name="cut off")
    wait_for_replica()
    replica = connections["replica"]
    replica.ensure_connection()
    assert not replica.serving_primary
    monitor = current_runtime().monitor
    assert monitor is not None
    reruns = monitor.counts["rerun_on_primary"]
    terminate_on_replica(replica.connection.info.backend_pid)

    with CaptureQueriesContext(replica) if logged else contextlib.nullcontext() as queries:
        row = Person.objects.using("replica").get(pk=person.pk)

    assert row.name == "cut off"
    assert replica.serving_primary  # the statement ran again, on the primary
    assert monitor.counts["rerun_on_primary"] == reruns + 1
    if queries is not None:
        assert len(queries) == 1  # the debug cursor logs it once


def test_explicit_write_to_the_read_only_warehouse_fails_clearly(replicated: None) -> None:
    Person = person_model()
    assert Person.objects.using("analytics").count() >= 0  # reads work
    with pytest.raises(ReadOnlyDatabaseError) as raised:
        Person(name="nope").save(using="analytics")
    assert "database 'analytics' is read-only" in str(raised.value)
    assert "INSERT refused" in str(raised.value)
    assert router.db_for_write(Person) == "postgres"


def test_db_status_shows_the_replica_and_its_lag(replicated: None) -> None:
    topology = current_runtime().topology
    wait_for_replica()
    statuses = {s.alias: s for s in database_statuses(topology)}
    replica = statuses["replica"].as_dict()
    assert (replica["role"], replica["reachable"], replica["port"]) == (
        "replica of postgres",
        True,
        "5433",
    )
    assert (replica["server_role"], statuses["postgres"].server_role) == ("standby", "primary")
    assert replica["lag_bytes"] is not None
    assert replica["lag_seconds"] is not None
    assert replica["replay_paused"] in {False, True}  # the shared standby: others may pause it
    assert replica["pending"] is None  # a replica takes no migrations
    assert probe("analytics", topology).role == "read-only"
    # The replica's server gone: a port nothing listens on (the shared standby is never stopped:
    # other test sessions use it, and a run killed meanwhile would leave it down).
    closed = str(free_port())
    with mock.patch.dict(connections.settings["replica"], {"PORT": closed}):
        down = probe("replica", topology)
    assert down.reachable is False  # reported as down: a status never fails over
    assert closed in str(down.error)
