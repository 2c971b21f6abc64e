"""A thread checks that its tenant connections are current (``registry.fresh_connection``):
every one of them after a database was removed, only the new one when a tenant is first routed
to (opening n tenants in one thread costs O(n) checks, not n^2: issue 23, point 7)."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from django.db import connections

from django_cfg.tenants import registry
from django_cfg.tenants.registry import fresh_connection


def test_a_tenant_first_routed_to_checks_its_own_connection_and_a_removal_checks_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = SimpleNamespace(tenant_connections=threading.local(), tenant_sweeps=threading.local())
    runtime = SimpleNamespace(removals=0, state=state)
    aliases = list(connections.settings)[:4]
    assert len(aliases) == 4
    checks: list[str] = []
    check = registry._close_if_superseded

    def counted(alias: str) -> bool:
        checks.append(alias)
        return check(alias)

    monkeypatch.setattr(registry, "_close_if_superseded", counted)
    for alias in aliases:
        assert fresh_connection(alias, runtime) == alias  # type: ignore[arg-type]
    assert checks == aliases  # each checked once, when first routed to
    checks.clear()
    for alias in aliases:
        fresh_connection(alias, runtime)  # type: ignore[arg-type]
    assert checks == []  # nothing removed: nothing to check
    runtime.removals = 1  # a database was removed (a tenant closed for max_open, moved, ...)
    fresh_connection(aliases[0], runtime)  # type: ignore[arg-type]
    assert sorted(checks) == sorted(aliases)  # every connection this thread holds
