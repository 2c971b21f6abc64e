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
IDENTITY = {"state", "monitor", "wrappers", "counts", "retired", "removals", "pins"}
IDENTITY |= {"recent_removals"}
IDENTITY |= {"derived_for", "shared"}  # how this runtime was made, not what it routes
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


def sqlite(path: Any) -> dict[str, str]:
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}


def test_a_replaced_runtime_keeps_its_aliases_and_every_entry_it_had(tmp_path: Any) -> None:
    before = current_runtime()
    try:
        add_database("plain_a", sqlite(tmp_path / "a.db"))
        first = current_runtime()
        add_database("plain_b", sqlite(tmp_path / "b.db"))
        remove_database("plain_a")
        assert first.retired
        assert tuple(first.topology.aliases) == (*before.topology.aliases, "plain_a")
        assert first.topology.roles["plain_a"].alias == "plain_a"  # removed later: still there
        assert first.primary_of["plain_a"] == "plain_a"
        now = current_runtime()
        assert tuple(now.topology.aliases) == (*before.topology.aliases, "plain_b")
        assert "plain_a" not in now.topology.roles
        assert "plain_a" not in now.primaries
        assert_as_compiled(now)
    finally:
        for alias in ("plain_a", "plain_b"):
            if alias in current_runtime().topology.roles:
                remove_database(alias)
    assert current_runtime().topology.aliases == before.topology.aliases


ROUNDS, SLOTS, OPENERS = 15, 3, 8


def open_write_close(thread: int, folder: Any) -> None:
    """Add a plain database, write a row and count this slot's rows, remove it; ROUNDS times."""
    from django.db import connections

    for round_ in range(ROUNDS):
        alias = f"plain_{thread}_{round_ % SLOTS}"
        add_database(alias, sqlite(folder / f"{alias}.db"))
        with connections[alias].cursor() as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS mark (alias text, round int)")
            cursor.execute("INSERT INTO mark VALUES (%s, %s)", [alias, round_])
            cursor.execute("SELECT count(*) FROM mark WHERE alias = %s", [alias])
            assert cursor.fetchone()[0] == round_ // SLOTS + 1
        connections[alias].close()
        assert current_runtime().primary_of[alias] == alias
        remove_database(alias)


def read_tables() -> None:
    """What a reader of the runtime does: iterate its alias tables, look aliases up."""
    runtime = current_runtime()
    topology = runtime.topology
    for alias in topology.aliases:
        assert topology.roles[alias].alias == alias
        assert runtime.primary_of[alias] in topology.roles
    for alias, role in topology.roles.items():
        assert role.alias == alias
    for role in topology.roles.values():
        assert runtime.primary_of[role.alias] == role.alias or role.replica_of
    list(runtime.primaries)
    dict(runtime.added)


def test_threads_opening_and_closing_databases_each_write_their_own_file(
    tmp_path: Any, django_db_blocker: Any
) -> None:
    """Eight threads add a plain database, write to it, read it back and remove it, over and
    over, while two threads read the runtime's tables: every row lands in its own file, and a
    reader never meets a table changed under its iteration."""
    import sqlite3
    import sys
    import threading

    before = current_runtime()
    errors: list[BaseException] = []
    stop = threading.Event()

    def reported(work: Any, *args: Any) -> None:
        try:
            work(*args)
            while work is read_tables and not stop.is_set():
                work(*args)
        except BaseException as error:  # asserted below
            errors.append(error)

    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch often: a reader is often mid-iteration
    with django_db_blocker.unblock():
        readers = [threading.Thread(target=reported, args=(read_tables,)) for _ in range(2)]
        openers = [
            threading.Thread(target=reported, args=(open_write_close, n, tmp_path))
            for n in range(OPENERS)
        ]
        for thread in [*readers, *openers]:
            thread.start()
        for thread in openers:
            thread.join(timeout=120)
        stop.set()
        for thread in readers:
            thread.join(timeout=30)
    sys.setswitchinterval(switching)
    assert errors == []
    for thread in range(OPENERS):
        for slot in range(SLOTS):
            alias = f"plain_{thread}_{slot}"
            with sqlite3.connect(tmp_path / f"{alias}.db") as raw:
                rows = raw.execute("SELECT alias, round FROM mark ORDER BY round").fetchall()
            assert rows == [(alias, r) for r in range(ROUNDS) if r % SLOTS == slot]
    assert current_runtime().topology.aliases == before.topology.aliases
    assert_as_compiled(current_runtime())
