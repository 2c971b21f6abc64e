"""Scenarios that queue Celery tasks for a worker in a process of its own
(tests/tenants/project/worker_app.py, started by tests/tenants/test_worker.py)."""

from __future__ import annotations

import time
from typing import Any

from django_cfg import use_tenant
from tests.tenants.project.notes.models import Note


def _wait_for_worker(app: Any, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not app.control.ping(timeout=1):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no Celery worker answered a ping in {timeout} s")


def celery_pins(names: list[str]) -> dict[str, Any]:
    """A write in ``names[0]``, then tasks queued: after it (pinned), in ``names[1]`` (nothing
    written there), after it with the pins integration disconnected, and after it again."""
    from django_cfg.replicas import celery as pins_celery
    from tests.tenants.project.worker_app import app, read_notes

    first, second = names
    _wait_for_worker(app)
    results = {}
    with use_tenant(first):
        Note.objects.create(title=f"{first}-new")
        results["after write"] = read_notes.delay()
    with use_tenant(second):
        results["other tenant"] = read_notes.delay()
    pins_celery.disconnect()
    try:
        with use_tenant(first):
            results["without pins"] = read_notes.delay()
    finally:
        pins_celery.connect()
    with use_tenant(first):
        results["again"] = read_notes.delay()
    return {key: result.get(timeout=60) for key, result in results.items()}
