"""Patch 11 (``django_cfg.patches``): with tenants, the per-request receivers of ``django.db``
visit the connections a request reached (and those whose age ran out), not every alias of
the thread. What it changes, that it is undone, what it still closes, and the Django internals
it relies on (they fail when a Django release changes one)."""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import django.db
import django.test.client
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import connections
from django.dispatch.dispatcher import _make_id

from django_cfg import patches
from django_cfg.runtime.added_databases import add_database, remove_database
from django_cfg.runtime.runtime import current_runtime
from django_cfg.state.topology import TENANT_HOME, DatabaseRole, Topology
from tests.patches.test_patches import restored  # noqa: F401 (the fixture: the suite's patches back)

WITH_TENANTS = Topology(
    aliases=("default",), roles={"default": DatabaseRole("default")}, homes={"notes": TENANT_HOME}
)


def receivers(signal: Any) -> dict[Any, Any]:
    """lookup key -> the receiver connected under it."""
    return {key: ref() for key, ref, *_ in signal.receivers}


def django_key(function: Any) -> tuple[Any, Any]:
    return (_make_id(function), _make_id(None))


def request(reach: list[str] = ()) -> None:  # type: ignore[assignment]
    """One request as a WSGI server makes it: its signals around reaching ``reach``."""
    request_started.send(sender=WSGIHandler, environ={})
    for alias in reach:
        connections[alias].ensure_connection()
    request_finished.send(sender=WSGIHandler)


@pytest.fixture
def databases(
    tmp_path: Path,
    restored: None,  # noqa: F811
    django_db_setup: None,
    django_db_blocker: Any,
) -> Iterator[list[str]]:
    """Five SQLite files added as databases (``CONN_MAX_AGE`` 60), patch 11 installed; the
    suite's test databases are not touched (no test case holds these)."""
    aliases = [f"patch10_{i}" for i in range(5)]
    for alias in aliases:
        path = tmp_path / f"{alias}.sqlite3"
        add_database(alias, {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)})
        connections.settings[alias]["CONN_MAX_AGE"] = 60
    patches.install(WITH_TENANTS)  # after add_database: each rebuild follows the suite's topology
    try:
        with django_db_blocker.unblock():
            yield aliases
    finally:
        for alias in aliases:
            remove_database(alias)


# What is patched ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("restored")
def test_installed_with_tenants_only_under_djangos_keys_and_undone() -> None:
    started, finished = (
        django_key(django.db.reset_queries),
        django_key(django.db.close_old_connections),
    )
    assert receivers(request_started)[started] is django.db.reset_queries  # the suite: no tenants
    patches.install(WITH_TENANTS)
    assert receivers(request_started)[started] is patches._reset_queries
    assert receivers(request_started)[finished] is patches._close_old_connections
    assert receivers(request_finished)[finished] is patches._close_old_connections
    assert django.db.reset_queries not in receivers(request_started).values()
    assert patches.installed()["django.db.close_old_connections"] is patches._close_old_connections
    patches.uninstall()
    assert receivers(request_started)[started] is django.db.reset_queries
    assert receivers(request_finished)[finished] is django.db.close_old_connections
    assert patches._close_old_connections not in receivers(request_finished).values()


@pytest.mark.usefixtures("restored")
def test_the_test_clients_disconnect_of_close_old_connections_disconnects_ours() -> None:
    """django.test.Client switches Django's receiver off around its requests (by the function's
    identity): it switches ours off the same way, and its connect puts Django's back."""
    patches.install(WITH_TENANTS)
    assert request_started.disconnect(django.db.close_old_connections)
    assert patches._close_old_connections not in receivers(request_started).values()
    request_started.connect(django.db.close_old_connections)
    assert receivers(request_started)[django_key(django.db.close_old_connections)] is (
        django.db.close_old_connections
    )


# What it closes -----------------------------------------------------------------------------------


def test_a_connection_a_request_reached_is_closed_when_unusable(databases: list[str]) -> None:
    first = databases[0]
    request([first])  # its first visit: Django's full one
    request_started.send(sender=WSGIHandler, environ={})
    connections[first].set_autocommit(False)  # left so: Django closes it at the request's end
    request_finished.send(sender=WSGIHandler)
    assert connections[first].connection is None


def test_a_connection_past_its_age_is_closed_at_the_next_request_unreached(
    databases: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    request(databases)
    assert all(connections[alias].connection is not None for alias in databases)  # age 60 s
    later = time.monotonic() + 61
    monkeypatch.setattr(time, "monotonic", lambda: later)
    request([])  # reaches none of them
    assert all(connections[alias].connection is None for alias in databases)


def test_a_request_visits_only_the_connections_it_reached(
    databases: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = type(connections[databases[0]])
    request(databases)  # all five open (age 60 s), this thread's first visit made
    visited: list[str] = []
    django_check = backend.close_if_unusable_or_obsolete

    def check(self: Any) -> None:
        visited.append(self.alias)
        django_check(self)

    monkeypatch.setattr(backend, "close_if_unusable_or_obsolete", check)
    request([databases[2]])
    assert sorted(set(visited) & set(databases)) == [databases[2]]


def test_the_queries_log_of_a_connection_a_request_reached_is_emptied_at_the_next(
    databases: list[str],
) -> None:
    first = connections[databases[0]]
    first.force_debug_cursor = True
    try:
        request_started.send(sender=WSGIHandler, environ={})
        connections[databases[0]].cursor().execute("SELECT 1")
        request_finished.send(sender=WSGIHandler)
        assert len(first.queries_log) == 1
        request([])
        assert len(first.queries_log) == 0
    finally:
        first.force_debug_cursor = False


# Django internals it relies on --------------------------------------------------------------------


def test_djangos_receivers_visit_every_initialized_connection_and_are_connected_by_identity() -> (
    None
):
    reset, close = (
        inspect.getsource(django.db.reset_queries),
        inspect.getsource(django.db.close_old_connections),
    )
    assert "connections.all(initialized_only=True)" in reset
    assert "conn.queries_log.clear()" in reset
    assert "connections.all(initialized_only=True)" in close
    assert "conn.close_if_unusable_or_obsolete()" in close
    assert _make_id(django.db.close_old_connections) == id(django.db.close_old_connections)
    client = inspect.getsource(django.test.client)
    assert "request_started.disconnect(close_old_connections)" in client
    assert "request_finished.disconnect(close_old_connections)" in client


def test_a_connection_knows_when_it_becomes_obsolete() -> None:
    """The heap of patch 11 is ordered by ``close_at``, which ``connect()`` sets and
    ``close_if_unusable_or_obsolete`` compares with ``time.monotonic()``."""
    source = inspect.getsource(type(connections["default"]).__mro__[-2].connect)
    assert "self.close_at = None if max_age is None else time.monotonic() + max_age" in source
    check = inspect.getsource(
        type(connections["default"]).__mro__[-2].close_if_unusable_or_obsolete
    )
    assert "time.monotonic() >= self.close_at" in check
    assert current_runtime().state.patches is not None
