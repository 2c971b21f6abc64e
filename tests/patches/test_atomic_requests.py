"""Patch 12 (``django_cfg.patches``): with tenants, ``ATOMIC_REQUESTS`` wraps the view for the
same databases as Django's ``make_view_atomic``, without visiting every open tenant's settings
per request. What it wraps, what it leaves, and the Django internals it copies."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.handlers.base import BaseHandler
from django.db import connections, transaction

from django_cfg import patches
from django_cfg.runtime.added_databases import add_database, remove_database
from tests.patches.test_patches import restored  # noqa: F401 (the fixture: the suite's patches back)
from tests.patches.test_request_connections import WITH_TENANTS

DJANGO_MAKE_VIEW_ATOMIC = BaseHandler.__dict__["make_view_atomic"]


def sqlite(path: Path, atomic: bool) -> dict[str, Any]:
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path), "ATOMIC_REQUESTS": atomic}


@pytest.fixture
def databases(
    tmp_path: Path,
    restored: None,  # noqa: F811
    django_db_blocker: Any,
) -> Iterator[list[str]]:
    """Twenty SQLite databases added at run time, the first with ``ATOMIC_REQUESTS``; patch 12
    installed."""
    aliases = [f"patch12_{i}" for i in range(20)]
    with django_db_blocker.unblock(), contextlib.ExitStack() as added:
        for number, alias in enumerate(aliases):
            add_database(alias, sqlite(tmp_path / f"{alias}.sqlite3", atomic=number == 0))
            added.callback(remove_database, alias)
            added.callback(connections[alias].close)
        patches.install(WITH_TENANTS)  # after add_database: each rebuild follows the suite's
        yield aliases


def in_atomic_blocks(view: Any, aliases: list[str]) -> list[str]:
    """The aliases in an atomic block while the view that ``make_view_atomic`` made runs."""
    seen: list[str] = []

    def probe() -> None:
        seen.extend(alias for alias in aliases if connections[alias].in_atomic_block)

    BaseHandler().make_view_atomic(view(probe))()
    return seen


def test_the_view_is_atomic_on_the_databases_with_atomic_requests(databases: list[str]) -> None:
    assert BaseHandler.__dict__["make_view_atomic"] is not DJANGO_MAKE_VIEW_ATOMIC
    assert in_atomic_blocks(lambda probe: probe, databases) == [databases[0]]


def test_a_non_atomic_view_is_left_alone(databases: list[str]) -> None:
    exempt = transaction.non_atomic_requests(using=databases[0])
    assert in_atomic_blocks(exempt, databases) == []


def test_a_database_added_with_atomic_requests_later_is_wrapped(
    databases: list[str], tmp_path: Path
) -> None:
    add_database("patch12_late", sqlite(tmp_path / "late.sqlite3", atomic=True))
    try:
        seen = in_atomic_blocks(lambda probe: probe, [*databases, "patch12_late"])
        assert seen == [databases[0], "patch12_late"]
    finally:
        connections["patch12_late"].close()
        remove_database("patch12_late")
    assert in_atomic_blocks(lambda probe: probe, databases) == [databases[0]]


@pytest.mark.usefixtures("restored")
def test_uninstall_gives_django_its_make_view_atomic_back() -> None:
    patches.install(WITH_TENANTS)
    assert BaseHandler.__dict__["make_view_atomic"].__wrapped__ is DJANGO_MAKE_VIEW_ATOMIC
    patches.uninstall()
    assert BaseHandler.__dict__["make_view_atomic"] is DJANGO_MAKE_VIEW_ATOMIC


def test_djangos_make_view_atomic_is_what_patch_12_copies() -> None:
    """Patch 12 repeats Django's loop over fewer aliases: a Django release that changes it
    fails here."""
    source = inspect.getsource(DJANGO_MAKE_VIEW_ATOMIC)
    assert 'non_atomic_requests = getattr(view, "_non_atomic_requests", set())' in source
    assert "for alias, settings_dict in connections.settings.items():" in source
    assert 'if settings_dict["ATOMIC_REQUESTS"] and alias not in non_atomic_requests:' in source
    assert "view = transaction.atomic(using=alias)(view)" in source
