"""A shared delete finishes at most ``SWEEPS_PER_DELETE`` abandoned tenant sweeps before its own
(oldest first), so a tenant refusing writes for long cannot make every delete sweep every
piled-up intent; ``migrate_all`` (no limit) finishes them all."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from django_cfg.relations import roll_forward
from django_cfg.relations.collector import CrossDatabaseCollector
from django_cfg.relations.delete_intents import PendingDelete
from django_cfg.relations.roll_forward import SWEEPS_PER_DELETE, finish_abandoned_sweeps
from django_cfg.relations.shared_delete import EVERY_TENANT


@pytest.fixture
def pending(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Five unfinished sweeps and one cross-database delete that is no sweep; the tokens
    ``finish_pending_delete`` was called with, in order."""
    created = datetime(2026, 1, 1, tzinfo=UTC)
    sweeps = [
        PendingDelete(f"s{n}", created, ["default"], [(EVERY_TENANT, "notes.Note", [n])])
        for n in range(5)
    ]
    other = PendingDelete("x", created, ["default"], [("blog_db", "blog.Post", [1])])
    finished: list[str] = []
    monkeypatch.setattr(roll_forward, "intent_databases", lambda: ["default"])
    monkeypatch.setattr(roll_forward, "pending_deletes", lambda _dbs: [other, *sweeps])
    monkeypatch.setattr(
        roll_forward, "finish_pending_delete", lambda p, _collector: finished.append(p.token)
    )
    return finished


def test_a_shared_delete_finishes_at_most_the_oldest_few(pending: list[str]) -> None:
    assert finish_abandoned_sweeps(CrossDatabaseCollector, limit=SWEEPS_PER_DELETE) == 2
    assert pending == ["s0", "s1"]


def test_without_a_limit_every_sweep_is_finished(pending: list[str]) -> None:
    assert finish_abandoned_sweeps(CrossDatabaseCollector) == 5
    assert pending == ["s0", "s1", "s2", "s3", "s4"]
