"""Health checks of kept and pooled PostgreSQL connections have a client-side deadline (issue
21, point 4; ``state/answer_deadline.py``, patch 10): on a private server SIGSTOPped while a
connection is kept, Django's health check and the pool's check give up after the database's
``connect_timeout`` instead of waiting for the whole hang."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from django.db import connections
from django.db.backends.postgresql.base import DatabaseWrapper
from django.db.utils import OperationalError

from django_cfg import patches
from django_cfg.runtime.runtime import current_runtime
from django_cfg.state.answer_deadline import answered_within, check_deadline
from tests.support.private_postgres import PrivateServer, private_postgres

pytestmark = pytest.mark.postgres

DEADLINE = 2  # connect_timeout: libpq's whole seconds, at least 2
HANG = 6.0


@pytest.fixture(scope="module")
def server() -> Iterator[PrivateServer]:
    with private_postgres() as built:
        yield built


@pytest.fixture
def bounded(django_db_blocker: Any) -> Iterator[None]:
    """Patch 10 installed (the suite's settings keep no PostgreSQL connection), then as before;
    connections of the test's own wrappers allowed (no test database is involved)."""
    patches.install(current_runtime().topology, keeping=True)
    try:
        with django_db_blocker.unblock():
            yield
    finally:
        patches.install(current_runtime().topology)


@contextmanager
def hung(server: PrivateServer) -> Iterator[None]:
    """``server.hung()``, resumed after ``HANG`` s at most: without the deadline a check waits
    for that (and the test fails) rather than for ever."""
    pids = server.pids()

    def resume() -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    timer = threading.Timer(HANG, resume)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        resume()


def wrapper(server: PrivateServer, alias: str, **settings: Any) -> Any:
    entry = {
        **connections["postgres"].settings_dict,
        "NAME": "postgres",
        "HOST": "127.0.0.1",
        "PORT": str(server.port),
        "USER": "postgres",
        "PASSWORD": "",
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {"connect_timeout": DEADLINE},
        **settings,
    }
    return DatabaseWrapper(entry, alias)


def test_a_check_answers_in_time_on_a_running_server_and_gives_up_on_a_hung_one(
    server: PrivateServer,
) -> None:
    dsn = f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres"
    with psycopg.connect(dsn, autocommit=True) as connection:
        assert answered_within(connection, DEADLINE) is True
        assert connection.execute("SELECT 2").fetchone() == (2,)  # psycopg reads its own answer
        with hung(server):
            started = time.monotonic()
            answered = answered_within(connection, DEADLINE)
            took = time.monotonic() - started
        assert answered is None
        assert DEADLINE <= took < DEADLINE + 0.5, took
        assert connection.closed  # a late answer is never read as the next statement's
        assert answered_within(connection, DEADLINE) is False
    with psycopg.connect(dsn) as in_transaction:  # not autocommit: inside psycopg's transaction
        in_transaction.execute("SELECT 1")
        assert answered_within(in_transaction, DEADLINE) is True
        assert in_transaction.execute("SELECT 3").fetchone() == (3,)


def test_the_deadline_is_the_connect_timeout() -> None:
    assert check_deadline({"OPTIONS": {"connect_timeout": 2}}) == 2.0
    assert check_deadline({"OPTIONS": {"connect_timeout": "10"}}) == 10.0
    assert check_deadline({"OPTIONS": {}}) == 5.0  # libpq waits for ever: the documented bound
    assert check_deadline({}) == 5.0


def test_a_kept_connection_to_a_hung_server_fails_the_statement_within_the_deadline(
    server: PrivateServer, bounded: None
) -> None:
    db = wrapper(server, "kept")
    try:
        with db.cursor() as cursor:
            cursor.execute("SELECT 1")
        db.close_if_unusable_or_obsolete()  # a request ended: kept, checked again before use
        assert db.connection is not None
        assert not db.health_check_done
        with hung(server):
            started = time.monotonic()
            with pytest.raises(OperationalError) as failed:
                db.cursor()
            took = time.monotonic() - started
            assert db.connection is None  # closed: the next statement connects anew
        assert str(failed.value).startswith(
            f"Database 'kept' (127.0.0.1:{server.port}) did not answer a health check "
            f"(SELECT 1) within {DEADLINE} s"
        )
        assert DEADLINE <= took < DEADLINE + 0.5, took
        with db.cursor() as cursor:  # the server is back: a new connection
            cursor.execute("SELECT 1")
        with hung(server):
            started = time.monotonic()
            assert db.is_usable() is False  # after an error, at a request's end
            assert time.monotonic() - started < DEADLINE + 0.5
    finally:
        db.close()


def test_a_pool_gives_up_on_its_hung_connections_within_its_timeout(
    server: PrivateServer, bounded: None
) -> None:
    options = {"connect_timeout": DEADLINE, "pool": {"timeout": DEADLINE, "min_size": 2}}
    db = wrapper(server, "pooled_h", CONN_MAX_AGE=0, OPTIONS=options)
    try:
        with db.cursor() as cursor:
            cursor.execute("SELECT 1")
        db.close()  # back to the pool
        with hung(server):
            started = time.monotonic()
            with pytest.raises(OperationalError, match=r"couldn't get a connection after 2\.00"):
                db.ensure_connection()
            took = time.monotonic() - started
        assert DEADLINE <= took < DEADLINE + 1, took
        with db.cursor() as cursor:  # the server is back
            cursor.execute("SELECT 1")
    finally:
        db.close()
        db.close_pool()
