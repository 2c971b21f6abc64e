"""Patch 8 (``django_cfg.patches``): ``connections["tenant_<name>"]`` opens a known tenant's
database on first use. What it changes, that it is undone, and the Django internals it relies
on (they fail when a Django release changes one). Its effect on real tenant databases is
tested in tests/tenants/test_first_use.py."""

from __future__ import annotations

import inspect
import threading

import pytest
from django.db import connections, transaction
from django.db.utils import ConnectionHandler
from django.utils.connection import BaseConnectionHandler, ConnectionDoesNotExist

from django_cfg import patches
from django_cfg.state.topology import TENANT_HOME, DatabaseRole, Topology
from tests.patches.test_patches import restored  # noqa: F401 (the fixture: the suite's patches back)

TENANT_CONNECTIONS = "django.db.utils.ConnectionHandler.__getitem__"
WITH_TENANTS = Topology(
    aliases=("default",), roles={"default": DatabaseRole("default")}, homes={"notes": TENANT_HOME}
)


@pytest.mark.usefixtures("restored")
def test_installed_with_tenants_only_and_undone() -> None:
    assert TENANT_CONNECTIONS not in patches.installed()  # the suite has no tenants
    assert "__getitem__" not in vars(ConnectionHandler)
    patches.install(WITH_TENANTS)
    patches.install(WITH_TENANTS)  # idempotent: the same wrapper stays
    wrapper = vars(ConnectionHandler)["__getitem__"]
    assert patches.installed()[TENANT_CONNECTIONS] is wrapper
    assert wrapper.__wrapped__ is BaseConnectionHandler.__getitem__
    assert connections["default"] is connections["default"]  # a hit is Django's own lookup
    with pytest.raises(ConnectionDoesNotExist, match="The connection 'tenant_acme' doesn't"):
        connections["tenant_acme"]  # no tenant registry in this process: Django's error
    patches.uninstall()
    assert "__getitem__" not in vars(ConnectionHandler)  # inherited again, not a copy
    assert ConnectionHandler.__getitem__ is BaseConnectionHandler.__getitem__


def test_djangos_lookup_raises_on_a_missing_alias_before_creating_a_connection() -> None:
    """The wrapper catches the miss and looks up again once the tenant's settings exist."""
    source = inspect.getsource(BaseConnectionHandler.__getitem__)
    assert "return getattr(self._connections, alias)" in source
    assert "if alias not in self.settings:" in source
    assert "raise self.exception_class(" in source
    assert ConnectionHandler.exception_class is ConnectionDoesNotExist
    assert "__getitem__" not in vars(ConnectionHandler)  # defined once, on the base class


def test_atomic_and_querysets_reach_a_database_through_connections_getitem() -> None:
    assert "return connections[using]" in inspect.getsource(transaction.get_connection)


def test_the_threads_connections_are_kept_in_connections_connections() -> None:
    """``runtime.runtime.thread_connection`` reads a thread's wrapper there (without making
    one, which ``connections[alias]`` would)."""
    made = connections["default"]
    assert connections._connections.default is made
    seen: list[object] = []
    thread = threading.Thread(
        target=lambda: seen.append(getattr(connections._connections, "default", None))
    )
    thread.start()
    thread.join()
    assert seen == [None]  # per thread
