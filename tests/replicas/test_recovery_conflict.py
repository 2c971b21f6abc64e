"""Recovery conflicts on the real replica (5433), provoked in seconds.

scripts/services.sh sets the replica's ``max_standby_streaming_delay`` to 2 s (PostgreSQL's
default is 30 s) and leaves ``hot_standby_feedback`` off, as most replicas run. A replica read
that holds a snapshot while the primary DELETEs and VACUUMs the rows it reads is then cancelled
about 2 s after the VACUUM with SQLSTATE 40001 ("canceling statement due to conflict with
recovery"). Measured here: 5 of 5 runs, 2.07 to 2.89 s after the VACUUM. Through Django, such a
read outside a transaction is run again on the primary (replicas/failover.py), counted and logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from django.apps import apps
from django.db import connections

from django_cfg import DatabaseConfig
from django_cfg.runtime.runtime import current_runtime
from tests.support.replica_tools import wait_for_replica
from tests.support.services import POSTGRES_URL, REPLICA_URL

CONFLICT_DELAY_SECONDS = 2
"""max_standby_streaming_delay that scripts/services.sh gives the replica."""
PROBE = "django_cfg_conflict_probe"


def _connect(url: str, dbname: str, **kwargs: Any) -> psycopg.Connection[Any]:
    server = DatabaseConfig.from_url(url)
    return psycopg.connect(
        host=server.host,
        port=server.port,
        user=server.user,
        dbname=dbname,
        autocommit=True,
        **kwargs,
    )


def wait_until_reading(dbname: str, application_name: str, timeout: float = 10) -> None:
    """Until a query of ``application_name`` is running on the replica."""
    deadline = time.monotonic() + timeout
    with _connect(REPLICA_URL, "postgres") as replica:
        while not replica.execute(
            "SELECT 1 FROM pg_stat_activity WHERE datname = %s AND application_name = %s "
            "AND state = 'active'",
            [dbname, application_name],
        ).fetchone():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no replica query of {application_name} in {timeout} s")
            time.sleep(0.01)


def during_a_conflict(
    read: Callable[[], Any], table: str, dbname: str, application_name: str
) -> tuple[Any, float]:
    """Run ``read`` (a long replica read of ``table``) in a thread while the primary empties and
    vacuums ``table``: (what ``read`` returned or raised, seconds from the VACUUM to its end)."""
    outcome: dict[str, Any] = {}

    def reader() -> None:
        try:
            outcome["result"] = read()
        except Exception as error:  # handed to the test
            outcome["result"] = error
        outcome["ended"] = time.monotonic()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        wait_until_reading(dbname, application_name)
        vacuumed = time.monotonic()
        with _connect(POSTGRES_URL, dbname) as primary:
            primary.execute(f"DELETE FROM {table}")
            primary.execute(f"VACUUM {table}")
    finally:
        thread.join(timeout=60)
    return outcome["result"], outcome["ended"] - vacuumed


@pytest.mark.postgres
@pytest.mark.replica
def test_a_long_replica_read_is_cancelled_by_a_vacuum_on_the_primary(
    scratch_postgres: str,
) -> None:
    dbname = DatabaseConfig.from_url(scratch_postgres).name
    with _connect(POSTGRES_URL, dbname) as primary:
        primary.execute("CREATE TABLE rows AS SELECT g AS id FROM generate_series(1, 10000) g")
    wait_for_replica()

    def read() -> Any:
        with _connect(REPLICA_URL, dbname, application_name=PROBE) as replica:
            return replica.execute("SELECT count(*), pg_sleep(15) FROM rows").fetchone()

    result, seconds = during_a_conflict(read, "rows", dbname, PROBE)
    assert isinstance(result, psycopg.errors.SerializationFailure), result
    assert result.sqlstate == "40001"
    assert "conflict with recovery" in str(result)
    # At most the delay (less when the replica had already used some of it replaying).
    assert seconds < CONFLICT_DELAY_SECONDS + 5


@pytest.mark.postgres
@pytest.mark.replica
@pytest.mark.django_db(transaction=True, databases=["default", "postgres", "replica"])
def test_a_replica_read_cancelled_by_a_recovery_conflict_is_rerun_on_the_primary(
    caplog: pytest.LogCaptureFixture,
) -> None:
    Person = apps.get_model("pg_people", "Person")
    Person.objects.using("postgres").bulk_create(Person(name=f"p{i}") for i in range(2000))
    wait_for_replica()
    dbname = str(connections["replica"].settings_dict["NAME"])
    application = f"django_cfg_conflict_{threading.get_ident()}"
    monitor = current_runtime().monitor
    assert monitor is not None
    before = dict(monitor.counts)

    def read() -> Any:
        replica = connections["replica"]
        replica.settings_dict["OPTIONS"]["application_name"] = application
        try:
            with replica.cursor() as cursor:
                # Sleeps (holding its snapshot) on the standby only; says which server answered.
                cursor.execute(
                    "SELECT count(*), inet_server_port(), pg_is_in_recovery(), "
                    "pg_sleep(CASE WHEN pg_is_in_recovery() THEN 5 ELSE 0 END) "
                    "FROM pg_people_person"
                )
                return cursor.fetchone(), replica.serving_primary
        finally:
            replica.close()  # an open replica session would stall replay of the teardown
            connections["postgres"].close()  # the rerun's, in this thread

    caplog.set_level(logging.WARNING, logger="django_cfg.replicas")
    try:
        outcome, _ = during_a_conflict(read, "pg_people_person", dbname, application)
    finally:
        connections["replica"].settings_dict["OPTIONS"].pop("application_name", None)
    assert not isinstance(outcome, Exception), outcome
    (count, port, in_recovery, _slept), serving_primary = outcome
    assert (port, in_recovery) == (5432, False)  # the row came from the primary
    assert count == 0  # read after the DELETE it conflicted with
    assert not serving_primary  # the replica connection stays on the standby (in rotation)
    assert monitor.counts["recovery_conflict"] == before["recovery_conflict"] + 1
    assert monitor.counts["rerun_on_primary"] == before["rerun_on_primary"] + 1
    assert not monitor.is_unavailable("replica")
    assert (
        "replica replica cancelled a read (conflict with recovery, SQLSTATE 40001)" in caplog.text
    )
