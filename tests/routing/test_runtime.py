"""The database runtime: databases added and removed while the process runs, rebuilds on
setting changes, and a router that is an ordinary Django router reading the runtime."""

from __future__ import annotations

import contextvars
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.db import connections, router
from django.db.utils import ConnectionRouter
from django.test import override_settings
from django.utils.connection import ConnectionDoesNotExist

from django_cfg import DatabaseConfig
from django_cfg.routing.router import DatabaseRouter
from django_cfg.runtime.added_databases import add_database, remove_database
from django_cfg.runtime.runtime import current_runtime
from django_cfg.settings.routers import ROUTER_PATH
from tests.apps.testapp.models import Note

ALIAS = "added_at_run_time"


def rows_in_file(path: Path, text: str) -> int:
    """Rows of testapp's Note table holding ``text``, read with sqlite3 itself (not Django)."""
    with sqlite3.connect(path) as raw:
        return int(
            raw.execute(
                f"SELECT count(*) FROM {Note._meta.db_table} WHERE text = ?", [text]
            ).fetchone()[0]
        )


@pytest.fixture
def added(tmp_path: Path, django_db_setup: None, django_db_blocker: Any) -> Iterator[Path]:
    """A SQLite file added as database ``ALIAS``, home of testapp, holding its table.

    Not a ``django_db`` test: Django's test cases allow only the aliases that existed when
    they were built. Here the test databases are open, and ``default`` is only read.
    """
    path = tmp_path / "added.sqlite3"
    add_database(ALIAS, DatabaseConfig.from_url(f"sqlite:///{path}"), apps=["testapp"])
    try:
        with django_db_blocker.unblock():
            with connections[ALIAS].schema_editor() as editor:
                editor.create_model(Note)
            yield path
    finally:
        if ALIAS in current_runtime().topology.roles:
            remove_database(ALIAS)


@pytest.mark.django_db(databases=["default"])  # also has the test databases set up for this file
def test_before_any_addition_notes_live_on_default() -> None:
    assert router.db_for_write(Note) == "default"
    Note.objects.create(text="on default")
    assert Note.objects.using("default").filter(text="on default").count() == 1


def test_a_database_added_at_run_time_holds_the_rows_of_its_apps(added: Path) -> None:
    assert router.db_for_write(Note) == ALIAS
    Note.objects.create(text="written after startup")  # no .using(): the router decides
    assert rows_in_file(added, "written after startup") == 1
    assert not Note.objects.using("default").filter(text="written after startup").exists()
    assert Note.objects.get(text="written after startup").text == "written after startup"


def test_removing_a_database_closes_its_connection_and_its_apps_go_back_to_default(
    added: Path,
) -> None:
    Note.objects.create(text="before removal")
    connection = connections[ALIAS]
    assert connection.connection is not None  # open after the write
    remove_database(ALIAS)
    assert connection.connection is None  # closed
    assert router.db_for_write(Note) == "default"
    assert ALIAS not in current_runtime().topology.roles
    with pytest.raises(ConnectionDoesNotExist, match=ALIAS):
        connections[ALIAS]
    with pytest.raises(ConnectionDoesNotExist, match=ALIAS):
        Note.objects.using(ALIAS).count()
    with pytest.raises(ConnectionDoesNotExist, match="no database 'added_at_run_time'"):
        remove_database(ALIAS)
    assert rows_in_file(added, "before removal") == 1  # the file itself is left alone


def test_an_alias_can_be_removed_and_added_again(tmp_path: Path) -> None:
    first, second = tmp_path / "first.sqlite3", tmp_path / "second.sqlite3"
    add_database(ALIAS, {"ENGINE": "django.db.backends.sqlite3", "NAME": str(first)})
    try:
        with pytest.raises(ValueError, match="already configured"):
            add_database(ALIAS, {"ENGINE": "django.db.backends.sqlite3", "NAME": str(second)})
        remove_database(ALIAS)
        add_database(ALIAS, {"ENGINE": "django.db.backends.sqlite3", "NAME": str(second)})
        assert connections[ALIAS].settings_dict["NAME"] == str(second)
        assert connections[ALIAS].settings_dict["AUTOCOMMIT"] is True  # Django's defaults
    finally:
        remove_database(ALIAS)


def test_add_database_refuses_what_would_break_routing(tmp_path: Path) -> None:
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "x.sqlite3")}
    with pytest.raises(ValueError, match="app 'lite_posts' already lives on 'sqlite_blog'"):
        add_database(ALIAS, sqlite, apps=["lite_posts"])
    with pytest.raises(ValueError, match="no database 'nowhere' is configured"):
        add_database(ALIAS, sqlite, replica_of="nowhere")
    assert ALIAS not in connections.settings
    with pytest.raises(ValueError, match="'replica' is a replica or copy of 'postgres'"):
        remove_database("postgres")
    with pytest.raises(ValueError, match="needs a 'default' database"):
        remove_database("default")


def test_a_replica_added_at_run_time_takes_reads_and_leaves_with_its_removal(
    tmp_path: Path,
) -> None:
    posts = apps.get_model("lite_posts", "Post")
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "r.sqlite3")}
    fresh = contextvars.Context  # a context with no write markers and no use_primary()
    assert fresh().run(router.db_for_read, posts) == "sqlite_blog"
    add_database(ALIAS, sqlite, replica_of="sqlite_blog")
    try:
        assert fresh().run(router.db_for_read, posts) == ALIAS
        assert fresh().run(router.db_for_write, posts) == "sqlite_blog"
    finally:
        remove_database(ALIAS)
    assert fresh().run(router.db_for_read, posts) == "sqlite_blog"


def test_adding_a_database_keeps_the_replica_monitor_and_relation_caches(
    tmp_path: Path,
) -> None:
    before = current_runtime()
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "t.sqlite3")}
    add_database(ALIAS, sqlite)
    try:
        after = current_runtime()
        assert after is not before
        assert before.retired
        assert after.monitor is before.monitor  # breakers and lag samples survive
        assert after.crossing_fields is before.crossing_fields  # no app moved: not recomputed
    finally:
        remove_database(ALIAS)


def test_adding_a_replica_keeps_what_the_monitor_knew_of_the_other_replicas(
    tmp_path: Path,
) -> None:
    """Opening a tenant with a replica must not put a replica known to be down back into
    rotation, nor reset the counters: the new monitor keeps the unchanged aliases' state."""
    before = current_runtime().monitor
    assert before is not None
    before.record_failure("replica", OSError("down, for this test"), attempt_seconds=0.0)
    down = before.health["replica"]
    before.counts["skip:lag"] += 1
    counted = before.counts["skip:lag"]
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "r.sqlite3")}
    add_database(ALIAS, sqlite, replica_of="sqlite_blog")
    try:
        after = current_runtime().monitor
        assert after is not None
        assert after is not before  # the replicas changed
        assert after.health["replica"] is down  # still out of rotation, same retry time
        assert after.is_unavailable("replica")
        assert after.counts["skip:lag"] == counted
        assert not after.is_unavailable(ALIAS)  # the new replica starts healthy
    finally:
        remove_database(ALIAS)
        current_runtime().monitor.record_success("replica")  # type: ignore[union-attr]
    assert not current_runtime().monitor.is_unavailable("replica")  # type: ignore[union-attr]


def test_a_routing_setting_change_rebuilds_the_runtime_once() -> None:
    before = current_runtime()
    with override_settings(DATABASE_ROUTING_RULES={"testapp": "sqlite_blog"}):
        during = current_runtime()
        assert during is not before
        assert before.retired
        assert during.topology.home("testapp") == "sqlite_blog"
        assert router.db_for_write(Note) == "sqlite_blog"
        assert during.monitor is before.monitor  # the replicas did not change
    assert current_runtime().topology.home("testapp") == "default"
    assert router.db_for_write(Note) == "default"


def test_building_the_router_changes_nothing_global() -> None:
    router.db_for_read(Note)
    runtime, router_state = current_runtime(), dict(vars(router))
    first, second = DatabaseRouter(), DatabaseRouter()
    assert current_runtime() is runtime
    assert not runtime.retired
    assert vars(router) == router_state
    # django.db.router keeps Django's own methods and loop.
    assert router.db_for_read.__func__ is ConnectionRouter.db_for_read  # type: ignore[attr-defined]
    assert router.db_for_write.__func__ is ConnectionRouter.db_for_write  # type: ignore[attr-defined]
    assert first.db_for_write(Note) == second.db_for_write(Note) == "default"


class SendsNotesToBlog:
    """A user's router: it answers for testapp and leaves everything else to the next one."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return "sqlite_blog" if model._meta.app_label == "testapp" else None

    db_for_write = db_for_read


def test_the_users_router_in_front_wins_and_ours_answers_the_rest() -> None:
    posts = apps.get_model("lite_posts", "Post")
    with override_settings(DATABASE_ROUTERS=[f"{__name__}.SendsNotesToBlog", ROUTER_PATH]):
        assert router.db_for_write(Note) == "sqlite_blog"  # the user's router answered
        assert router.db_for_read(Note) == "sqlite_blog"
        assert router.db_for_write(posts) == "sqlite_blog"  # None from it: ours answered
        assert [type(r) for r in router.routers] == [SendsNotesToBlog, DatabaseRouter]
    assert router.db_for_write(Note) == "default"


# Concurrency and the review's cases: one DatabaseConfig for connection and role, checks and
# changes as one step, stale connections of removed or replaced settings, async callers.


def test_keywords_of_add_database_change_the_connection_too(
    tmp_path: Path, django_db_setup: None, django_db_blocker: Any
) -> None:
    from django_cfg.routing.read_only import ReadOnlyDatabaseError

    path = tmp_path / "warehouse.sqlite3"
    sqlite3.connect(path).execute("CREATE TABLE t (x int)").connection.close()
    add_database("warehouse", DatabaseConfig.from_url(f"sqlite:///{path}"), read_only=True)
    try:
        with (
            django_db_blocker.unblock(),
            pytest.raises(ReadOnlyDatabaseError, match="warehouse"),
            connections["warehouse"].cursor() as cursor,
        ):
            cursor.execute("INSERT INTO t VALUES (1)")
        assert current_runtime().topology.roles["warehouse"].read_only
    finally:
        remove_database("warehouse")
    with pytest.raises(ValueError, match=r"DatabaseConfig\.from_url"):
        add_database(
            "w2", {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}, read_only=True
        )
    assert "w2" not in connections.settings


def test_concurrent_additions_are_checked_one_at_a_time(tmp_path: Path) -> None:
    import threading

    results: list[str] = []
    barrier = threading.Barrier(4)

    def add(alias: str, index: int) -> None:
        barrier.wait()
        try:
            add_database(
                alias,
                DatabaseConfig.from_url(f"sqlite:///{tmp_path}/{index}.sqlite3"),
                apps=["testapp"],
            )
            results.append(f"{alias}:{index}")
        except ValueError:
            results.append("refused")

    threads = [
        threading.Thread(target=add, args=(alias, i))
        for i, alias in enumerate(["z", "z", "y", "x"])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        added = [r for r in results if r != "refused"]
        assert len(added) == 1
        assert results.count("refused") == 3
        alias, index = added[0].split(":")
        assert router.db_for_write(Note) == alias
        assert connections.settings[alias]["NAME"] == f"{tmp_path}/{index}.sqlite3"
    finally:
        for alias in {"x", "y", "z"} & set(current_runtime().topology.roles):
            remove_database(alias)


def test_another_thread_drops_its_connection_to_removed_or_replaced_settings(
    tmp_path: Path, django_db_blocker: Any
) -> None:
    import threading

    from django.core.signals import request_started

    first, second = tmp_path / "first.sqlite3", tmp_path / "second.sqlite3"
    for path, name in ((first, "first"), (second, "second")):
        with sqlite3.connect(path) as raw:
            raw.execute("CREATE TABLE which (name text)")
            raw.execute("INSERT INTO which VALUES (?)", [name])
    add_database("x", DatabaseConfig.from_url(f"sqlite:///{first}"))
    served, go = threading.Semaphore(0), threading.Semaphore(0)
    seen: list[str] = []

    def request_thread() -> None:  # two requests, the databases changed in between
        try:
            for _ in range(2):
                request_started.send(sender=None)  # what Django's handler sends per request
                with connections["x"].cursor() as cursor:
                    cursor.execute("SELECT name FROM which")
                    seen.append(cursor.fetchone()[0])
                served.release()
                assert go.acquire(timeout=30)
            connections["x"].close()
        finally:
            served.release()

    with django_db_blocker.unblock():
        thread = threading.Thread(target=request_thread)
        thread.start()
        try:
            assert served.acquire(timeout=30)
            remove_database("x")
            add_database("x", DatabaseConfig.from_url(f"sqlite:///{second}"))
            go.release()
            assert served.acquire(timeout=30)
            go.release()
            thread.join(timeout=30)
            assert seen == ["first", "second"]
        finally:
            go.release()
            thread.join(timeout=30)
            remove_database("x")


def test_remove_database_from_async_code_changes_nothing(tmp_path: Path) -> None:
    import asyncio

    add_database("x", DatabaseConfig.from_url(f"sqlite:///{tmp_path}/x.sqlite3"), apps=["testapp"])

    async def remove() -> None:
        remove_database("x")

    try:
        with pytest.raises(RuntimeError, match="sync_to_async"):
            asyncio.run(remove())
        assert "x" in connections.settings
        assert router.db_for_write(Note) == "x"
    finally:
        remove_database("x")
    assert router.db_for_write(Note) == "default"
