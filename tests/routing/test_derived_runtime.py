"""Opening a tenant (a plain database: no app, replica or copy) derives the runtime from the
previous one instead of compiling settings again (issue 23 point 1). The derived runtime must be
what compiling would give: every attribute set, the routing tables equal."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.conf import settings

from django_cfg.runtime.added_databases import add_database, remove_database
from django_cfg.runtime.runtime import DatabaseRuntime, current_runtime

# Per process or per runtime object, not compiled from settings: not compared.
IDENTITY = {"state", "monitor", "wrappers", "counts", "retired", "removals", "replaced", "pins"}
# Caches filled on first use by the code that owns each (a compiled runtime starts them empty).
CACHES = {"read_plans", "write_plans", "pointers", "crossing_fields", "tables_elsewhere"}
CACHES |= {"intent_tables"}


def compiled(runtime: DatabaseRuntime) -> DatabaseRuntime:
    return DatabaseRuntime.from_settings(settings, added=runtime.added, removed=runtime.removed)


def comparable(value: Any) -> Any:
    return dict(value) if hasattr(value, "keys") and not isinstance(value, dict) else value


def assert_as_compiled(derived: DatabaseRuntime) -> None:
    fresh = compiled(derived)
    for name in DatabaseRuntime.__slots__:
        value = getattr(derived, name)  # AttributeError: the derivation missed a new attribute
        if name in IDENTITY | CACHES:
            continue
        if name == "topology":
            assert derived.topology._replace(roles={}) == fresh.topology._replace(roles={})
            assert dict(derived.topology.roles) == dict(fresh.topology.roles)
            continue
        assert comparable(value) == comparable(getattr(fresh, name)), name


@pytest.mark.parametrize("count", [1, 3])
def test_a_plain_database_added_then_removed_gives_the_compiled_runtime(
    tmp_path: Any, count: int
) -> None:
    before = current_runtime()
    aliases = [f"plain_{n}" for n in range(count)]
    try:
        for alias in aliases:
            with mock.patch.object(
                DatabaseRuntime, "from_settings", side_effect=AssertionError("compiled")
            ):  # derived, not compiled
                add_database(
                    alias,
                    {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / f"{alias}.db")},
                )
            derived = current_runtime()
            assert derived.topology.roles[alias].alias == alias
            assert_as_compiled(derived)
    finally:
        for alias in aliases:
            with mock.patch.object(
                DatabaseRuntime, "from_settings", side_effect=AssertionError("compiled")
            ):
                remove_database(alias)
            assert alias not in current_runtime().topology.roles
            assert_as_compiled(current_runtime())
    assert current_runtime().topology.aliases == before.topology.aliases
