"""The primary's breaker counts connection failures only (issue 21, point 5), on the real servers.

A SQL error in ``pin_position``'s query (here: a query in a transaction the primary has
already aborted, SQLSTATE 25P02; through PgBouncer it was "prepared statement does not exist")
is raised to the caller and leaves the breaker closed; a refused connection opens it.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from django.db import DatabaseError, InternalError, connections, transaction
from django.test import override_settings

from django_cfg import DatabaseConfig
from django_cfg.runtime.runtime import current_runtime
from django_cfg.state.connection_failures import is_connection_failure
from django_cfg.state.replica_monitor import ReplicaMonitor
from tests.support.dead_primary import CLOSED_PORT, primary_down
from tests.support.services import POSTGRES_URL

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.replica,
    pytest.mark.django_db(transaction=True, databases=["default", "postgres", "replica"]),
]


@pytest.fixture
def monitor(transactional_db: None) -> Iterator[ReplicaMonitor]:
    with override_settings(DATABASE_REPLICA_OPTIONS={"retry_interval": 2.0}):
        monitor = current_runtime().monitor
        assert monitor is not None
        try:
            yield monitor
        finally:
            monitor.close()
            connections["postgres"].close()
            connections["replica"].close()


def test_a_sql_error_in_pin_position_is_raised_and_leaves_the_breaker_closed(
    monitor: ReplicaMonitor,
) -> None:
    with transaction.atomic(using="postgres"):
        with pytest.raises(DatabaseError):
            connections["postgres"].cursor().execute("SELECT no_such_column")
        with pytest.raises(InternalError, match="current transaction is aborted"):
            monitor.pin_position("postgres")  # the primary is up: its answer is an error
        transaction.set_rollback(True, using="postgres")
    assert monitor.primary_health["postgres"].failures == 0
    assert not monitor.primary_down("postgres")
    assert monitor.counts["primary_unreachable"] == 0
    assert monitor.pin_position("postgres") is not None  # and it answers the next one


def test_a_refused_connection_opens_the_breaker(monitor: ReplicaMonitor) -> None:
    with primary_down("refused"):
        assert monitor.pin_position("postgres") is None
        assert monitor.primary_down("postgres")
        assert monitor.counts["primary_unreachable"] == 1
        assert "refused" in str(monitor.primary_health["postgres"].last_error).lower()


def _server() -> dict[str, object]:
    url = DatabaseConfig.from_url(POSTGRES_URL)
    return {"host": url.host, "port": url.port, "user": url.user, "dbname": "postgres"}


def test_real_driver_errors_are_told_apart() -> None:
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(**{**_server(), "port": CLOSED_PORT, "connect_timeout": 2})
    assert is_connection_failure(refused.value)
    with psycopg.connect(**_server(), autocommit=True) as connection:
        connection.execute("SET statement_timeout = 50")
        with pytest.raises(psycopg.errors.QueryCanceled) as cancelled:  # an OperationalError
            connection.execute("SELECT pg_sleep(1)")
        with pytest.raises(psycopg.ProgrammingError) as wrong_sql:
            connection.execute("SELECT no_such_column")
        terminated = psycopg.connect(**_server(), autocommit=True)
        pid = terminated.info.backend_pid
        connection.execute("SELECT pg_terminate_backend(%s)", [pid])
        with pytest.raises(psycopg.OperationalError) as lost:
            terminated.execute("SELECT 1")
        terminated.close()
    assert not is_connection_failure(cancelled.value)  # the server answered: it is up
    assert not is_connection_failure(wrong_sql.value)
    assert is_connection_failure(lost.value)  # 57P01 terminating connection, or none


@pytest.mark.mariadb
def test_mysql_sql_errors_are_not_connection_failures() -> None:
    """MySQL raises OperationalError for plain SQL errors too (1054 unknown column): told apart
    by the error number."""
    import MySQLdb

    from tests.support.services import MARIADB_URL

    url = DatabaseConfig.from_url(MARIADB_URL)
    with pytest.raises(MySQLdb.OperationalError) as refused:
        MySQLdb.connect(host="127.0.0.1", port=CLOSED_PORT, user="root", connect_timeout=2)
    assert is_connection_failure(refused.value)
    connection = MySQLdb.connect(host=url.host, port=url.port or 3306, user=url.user)
    try:
        with pytest.raises(MySQLdb.OperationalError) as wrong_sql:
            connection.cursor().execute("SELECT no_such_column")
    finally:
        connection.close()
    assert not is_connection_failure(wrong_sql.value)


def test_the_middleware_answers_the_view_when_the_primary_answers_its_position_with_an_error(
    monitor: ReplicaMonitor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the view, the read-your-writes middleware asks the primary its WAL position: an
    SQL error there (the primary is up) leaves the view's response and keeps a time marker."""
    from django.http import HttpResponse
    from django.test import RequestFactory

    from django_cfg.replicas.pinning import COOKIE_NAME, ReadYourWritesMiddleware
    from django_cfg.state.pins import current_pins, set_write

    def refuse(primary: str) -> int:
        raise InternalError('prepared statement "_pg3_2" does not exist')

    monkeypatch.setattr(monitor, "pin_position", refuse)
    assert "postgres" in current_runtime().lsn_primaries

    def view(request: object) -> HttpResponse:
        current_runtime().pins.note_write("postgres", by_position=True)
        assert current_pins().writes["postgres"].lsn is None
        return HttpResponse("made")

    response = ReadYourWritesMiddleware(view)(RequestFactory().post("/"))
    assert response.status_code == 200
    assert response.content == b"made"
    marker = response.cookies[COOKIE_NAME].value.split(":")
    assert marker[0] == "postgres"
    assert marker[1] == ""  # a time marker, no WAL position
    assert monitor.primary_health["postgres"].failures == 0
    set_write("postgres", None)
