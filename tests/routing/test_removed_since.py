"""A thread closes its connections to removed databases at its next request boundary
(``close_removed_connections``) by looking at the removals it missed, not at every database the
process ever removed: a process that closes tenants for ``max_open`` on most requests would
otherwise pay a loop over every tenant it ever closed on each request (2,000 closed tenants:
~2-4 ms per request, measured)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from django_cfg.runtime import runtime as runtime_module
from django_cfg.runtime.added_databases import (
    add_database,
    close_removed_connections,
    remove_database,
)
from django_cfg.runtime.runtime import current_runtime, removed_since, thread_connection


def sqlite(path: Path) -> dict[str, str]:
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}


def churn(tmp_path: Path, count: int, prefix: str = "churn") -> list[str]:
    """Add and remove ``count`` plain databases (as ``max_open`` closing tenants would)."""
    aliases = [f"{prefix}_{n}" for n in range(count)]
    for alias in aliases:
        add_database(alias, sqlite(tmp_path / f"{alias}.db"))
        remove_database(alias)
    return aliases


def test_the_removals_after_a_count_are_read_off_the_last_ones(tmp_path: Path) -> None:
    start = current_runtime().removals
    aliases = churn(tmp_path, 5)
    runtime = current_runtime()
    assert runtime.removals == start + 5
    assert set(removed_since(runtime, start + 3)) == set(aliases[3:])
    assert set(removed_since(runtime, start)) == set(aliases)
    assert set(removed_since(runtime, runtime.removals)) == set()


def test_a_runtime_lists_a_bounded_number_of_removals_and_a_thread_far_behind_sees_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime_module, "RECENT_REMOVALS", 4)
    start = current_runtime().removals
    aliases = churn(tmp_path, 10, prefix="bounded")
    runtime = current_runtime()
    assert [alias for _, alias in runtime.recent_removals] == aliases[-4:]
    assert set(removed_since(runtime, start + 6)) == set(aliases[6:])  # within the last 4
    behind = set(removed_since(runtime, start + 2))  # missed 8: every alias ever removed
    assert set(aliases) <= behind
    assert behind == runtime.state.removed_aliases


@pytest.mark.parametrize("missed", [3, 12], ids=["within-the-last-removals", "far-behind"])
def test_a_worker_closes_its_connection_to_a_database_removed_while_it_waited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, django_db_blocker: Any, missed: int
) -> None:
    """A worker thread queries a database, the database is removed by another thread, others
    come and go, and the worker's next boundary closes and forgets its connection to it."""
    monkeypatch.setattr(runtime_module, "RECENT_REMOVALS", 4)
    add_database("worker_db", sqlite(tmp_path / "worker.db"))
    holds = threading.Event()
    go_on = threading.Event()

    def worker() -> tuple[bool, bool]:
        close_removed_connections()  # this thread is current
        with connections["worker_db"].cursor() as cursor:
            cursor.execute("SELECT 1")
        holds.set()
        go_on.wait(timeout=60)
        held = thread_connection("worker_db")
        close_removed_connections()  # the worker's next request boundary
        return held is not None and held.connection is None, thread_connection("worker_db") is None

    outcome: list[Any] = []

    def reported() -> None:
        try:
            outcome.append(worker())
        except BaseException as error:  # asserted below
            outcome.append(error)

    with django_db_blocker.unblock():
        thread = threading.Thread(target=reported)
        thread.start()
        try:
            assert holds.wait(timeout=60), outcome
        finally:
            remove_database("worker_db")
            churn(tmp_path, missed - 1, prefix=f"after_{missed}")
            go_on.set()
            thread.join(timeout=60)
    assert outcome == [(True, True)], "the worker's connection to the removed database stayed"
