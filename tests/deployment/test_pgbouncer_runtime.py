"""The runtime behind a real PgBouncer in transaction mode (issue 13, point 2): a read-only
database refuses writes under every PgBouncer setting that connects, and read-your-writes holds
through the pooler with replay paused.

PgBouncers of scripts/services.sh: 6432 (primary; refuses libpq's ``options``), 6433 (replica),
6434 (primary, ``ignore_startup_parameters = options``: connects and drops them).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.apps import apps
from django.db import OperationalError, connections, transaction
from django.test import Client, override_settings

from django_cfg import DatabaseConfig
from django_cfg.routing.read_only import ReadOnlyDatabaseError
from django_cfg.runtime.runtime import current_runtime
from tests.support.replica_tools import replay_paused, start_replica, wait_for_replica
from tests.support.services import pgbouncer_release

PRIMARY_POOLER, REPLICA_POOLER, IGNORING_OPTIONS = 6432, 6433, 6434
WAREHOUSE = "analytics"
"""The suite's read-only alias (a view of the ``postgres`` test database)."""


def person_model() -> Any:
    return apps.get_model("pg_people", "Person")


def postgres_test_database() -> str:
    return str(connections["postgres"].settings_dict["NAME"])


def pooled_url(port: int, pooler: bool) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/{postgres_test_database()}" + (
        "?pooler=transaction" if pooler else ""
    )


@contextmanager
def warehouse(port: int, pooler: bool) -> Iterator[str]:
    """The read-only alias connected as ``DatabaseConfig.from_url(url, read_only=True)`` makes
    it for the ``postgres`` test database through PgBouncer on ``port``."""
    made = DatabaseConfig.from_url(pooled_url(port, pooler), read_only=True).to_django()
    entry = connections.settings[WAREHOUSE]
    saved = dict(entry)
    connections[WAREHOUSE].close()
    entry.pop("POOLER", None)
    entry.update(
        {
            key: made[key]
            for key in ("HOST", "PORT", "OPTIONS", "POOLER", "DISABLE_SERVER_SIDE_CURSORS")
            if key in made
        }
    )
    try:
        yield WAREHOUSE
    finally:
        connections[WAREHOUSE].close()
        entry.clear()
        entry.update(saved)
        pgbouncer_release(postgres_test_database(), pooled_url(port, pooler=False))


def write_through_the_pooler_is_possible() -> None:
    """A writable client after the warehouse: the pooled server connections it used are not
    left read-only (nothing session-level leaked)."""
    with connections["pooled"].cursor() as cursor:
        for _ in range(8):  # more than the pool's 4 server connections
            cursor.execute("SHOW transaction_read_only")
            assert cursor.fetchone() == ("off",)
    person_model().objects.using("pooled").create(name="written after the warehouse")


@pytest.mark.postgres
@pytest.mark.pgbouncer
@pytest.mark.django_db(transaction=True, databases=["default", "postgres", "pooled", WAREHOUSE])
@pytest.mark.parametrize(
    ("port", "pooler"),
    [(PRIMARY_POOLER, True), (IGNORING_OPTIONS, True), (IGNORING_OPTIONS, False)],
    ids=["6432-pooler", "6434-ignoring-options-pooler", "6434-ignoring-options-undeclared"],
)
def test_a_read_only_database_refuses_writes_through_every_pgbouncer_that_connects(
    port: int, pooler: bool
) -> None:
    Person = person_model()
    existing = Person.objects.using("postgres").create(name="readable")
    try:
        with warehouse(port, pooler) as alias:
            assert Person.objects.using(alias).get(pk=existing.pk).name == "readable"
            for _ in range(6):  # statements land on several pooled server connections
                with pytest.raises(ReadOnlyDatabaseError, match=f"database '{alias}' is read-only"):
                    Person.objects.using(alias).create(name="must not be written")
            with transaction.atomic(using=alias):
                assert Person.objects.using(alias).filter(pk=existing.pk).exists()
                with pytest.raises(ReadOnlyDatabaseError):  # inside atomic(): BEGIN READ ONLY
                    Person.objects.using(alias).filter(pk=existing.pk).update(name="changed")
            with pytest.raises(ReadOnlyDatabaseError), connections[alias].cursor() as cursor:
                cursor.execute("DELETE FROM pg_people_person")  # a raw cursor too
            assert Person.objects.using(alias).count() == 1  # reads still work
        assert list(Person.objects.using("postgres").values_list("name", flat=True)) == ["readable"]
        write_through_the_pooler_is_possible()
    finally:
        connections["pooled"].close()
        pgbouncer_release(postgres_test_database())


@pytest.mark.postgres
@pytest.mark.pgbouncer
@pytest.mark.django_db(transaction=True, databases=["default", "postgres", WAREHOUSE])
def test_read_only_without_the_pooler_option_through_a_refusing_pgbouncer_does_not_connect() -> (
    None
):
    """The one setting that does not connect: it fails loudly, naming the startup parameter."""
    with (
        warehouse(PRIMARY_POOLER, pooler=False) as alias,
        pytest.raises(OperationalError, match="unsupported startup parameter: options"),
    ):
        person_model().objects.using(alias).count()


# Read-your-writes through the pooler -------------------------------------------------------------


@contextmanager
def through_the_poolers() -> Iterator[None]:
    """``postgres`` and its ``replica`` through PgBouncer (6432 / 6433, ?pooler=transaction)."""
    changed = {"postgres": PRIMARY_POOLER, "replica": REPLICA_POOLER}
    saved = {alias: dict(connections.settings[alias]) for alias in changed}
    for alias, port in changed.items():
        connections[alias].close()
        connections.settings[alias].update(
            PORT=str(port), POOLER="transaction", DISABLE_SERVER_SIDE_CURSORS=True
        )
    try:
        with override_settings(  # a new monitor: its probes connect through the poolers too
            DATABASE_REPLICA_OPTIONS={"probe_interval": 0.2, "retry_interval": 1, "pin_seconds": 5}
        ):
            try:
                yield
            finally:
                if (monitor := current_runtime().monitor) is not None:
                    monitor.close()
    finally:
        for alias in changed:
            connections[alias].close()
            connections.settings[alias].clear()
            connections.settings[alias].update(saved[alias])
        pgbouncer_release(postgres_test_database())
        pgbouncer_release(postgres_test_database(), pooled_url(REPLICA_POOLER, pooler=False))


def served_by_port(row: Any) -> tuple[str, str]:
    return row._state.db, str(connections[row._state.db].settings_dict["PORT"])


@pytest.mark.postgres
@pytest.mark.replica
@pytest.mark.pgbouncer
@pytest.mark.django_db(transaction=True, databases=["default", "postgres", "replica"])
def test_read_your_writes_through_pgbouncer_with_replay_paused_has_no_stale_read() -> None:
    start_replica()
    Person = person_model()
    writes = 100
    stale = 0
    with through_the_poolers():
        in_a_new_context = contextvars.Context().run
        assert in_a_new_context(Person.objects.count) == 0  # the replica, via 6433
        with replay_paused():
            for i in range(writes):
                created = Person.objects.create(name=f"pooled {i}")
                found = Person.objects.filter(pk=created.pk).first()
                if found is None:
                    stale += 1
                else:
                    assert served_by_port(found) == ("postgres", "6432")
            # A context that wrote nothing reads the paused replica through 6433: none of them.
            assert in_a_new_context(Person.objects.filter(name__startswith="pooled ").count) == 0
            # Across requests, through the middleware's cookie:
            client = Client()
            for i in range(20):
                pk = client.post("/people/", {"name": f"web {i}"}).json()["pk"]
                read = client.get(f"/people/{pk}/")
                if read.status_code == 404:
                    stale += 1
                else:
                    assert read.json()["database"] == "postgres"
        wait_for_replica()
        connections["replica"].close()
    print(
        f"POOLER read-your-writes through 6432/6433, replay paused: {stale} stale of {writes + 20}"
    )
    assert stale == 0
