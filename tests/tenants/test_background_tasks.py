"""The tenant follows background work: Celery task headers and Django's tasks framework.

Each test queues tasks inside ``use_tenant`` in the tenant project (a subprocess) and reads the
tenants' SQLite files with sqlite3: the rows a task writes land in the tenant it was queued in.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import django
import pytest

from django_cfg import current_tenant, use_tenant
from tests.tenants.project.scenarios import write
from tests.tenants.project_support import TenantProject
from tests.tenants.project_support import sqlite_titles as titles
from tests.tenants.test_replicas import REPLICA, TEMPLATE, snapshot


def test_a_celery_task_runs_in_the_tenant_it_was_queued_in(fixed: TenantProject) -> None:
    assert find_spec("celery"), "celery is in the dev extra"
    out = fixed.scenario(celery, "acme", "beta")
    # The worker (a thread of its own, so a fresh context) ran each task in its message's tenant
    assert out["acme"] == "acme"
    assert out["beta"] == "beta"
    # Queued with no tenant: ran with none (never default)
    assert out["none"].startswith("NoTenantError: notes.Note lives in a tenant database")
    # A header naming an unknown tenant fails the task
    assert out["unknown"] == (
        "UnknownTenantError: no tenant 'nosuch': it is not in TenantsConfig.names (acme, beta)."
    )
    # Without the signals the tenants app connected, the tenant does not cross the message
    assert out["disconnected"].startswith("NoTenantError")
    assert titles(fixed, "acme") == ["acme-celery"]
    assert titles(fixed, "beta") == ["beta-celery"]
    assert "notes_note" not in fixed.sqlite_tables("default.sqlite3")


def test_an_eager_celery_task_with_a_tenant_header_runs_in_that_tenant(
    fixed: TenantProject,
) -> None:
    """``apply()`` (and ``task_always_eager``) runs in the caller's thread: in its tenant, unless
    the task is given a ``django_cfg_tenant`` header, as a queued task would be."""
    out = fixed.scenario(celery_eager, "acme", "beta")
    assert out == {"caller": "acme", "header": "beta", "after": "acme"}
    assert titles(fixed, "acme") == ["acme-eager"]
    assert titles(fixed, "beta") == ["beta-eager"]


@pytest.mark.skipif(
    django.VERSION < (6, 0), reason="django.tasks (the tasks framework) exists from Django 6.0"
)
def test_a_django_task_carries_the_read_your_writes_pins_to_its_worker(tmp_path: Path) -> None:
    """acme has a replica (a copy of its SQLite file taken before the write): the task reads
    acme's database and finds the note written before it was enqueued; stripped of the pins,
    the same task reads the replica and misses it."""
    project = TenantProject(tmp_path, TEMPLATE, names=["acme"], replica_urls=[REPLICA])
    project.manage("migrate_all", "--verbosity", "0")
    project.scenario(write, "acme")
    snapshot(project, "acme")
    out = project.scenario(django_task_pins, "acme")
    assert out["carried"] == ["django_cfg_pins", "django_cfg_tenant"]
    assert out["with_pins"] == {"db": "tenant_acme", "titles": ["acme-new", "acme-row"]}
    assert out["without_pins"] == {"db": "tenant_acme.replica", "titles": ["acme-row"]}


@pytest.mark.skipif(
    django.VERSION < (6, 0), reason="django.tasks (the tasks framework) exists from Django 6.0"
)
def test_a_django_task_runs_in_the_tenant_it_was_enqueued_in(fixed: TenantProject) -> None:
    out = fixed.scenario(django_tasks, "acme", "beta")
    immediate = out["immediate"]
    assert immediate["acme"]["status"] == "SUCCESSFUL"
    assert immediate["acme"]["return"] == "acme"
    assert immediate["acme"]["kwargs"] == {"django_cfg_tenant": "acme"}
    assert immediate["beta"]["return"] == "beta"
    assert immediate["None"]["status"] == "FAILED"
    assert immediate["None"]["errors"] == ["django_cfg.tenants.errors.NoTenantError"]
    assert immediate["None"]["kwargs"] == {}
    assert out["tenant_argument"].startswith(
        "TypeError: 'django_cfg_tenant' is the keyword argument that carries the tenant"
    )
    # Stored by the deferred backend, run by another thread from the stored task and arguments
    assert out["deferred"] == {
        "acme-deferred": "acme",
        "beta-deferred": "beta",
        "nosuch-deferred": "UnknownTenantError: no tenant 'nosuch': it is not in "
        "TenantsConfig.names (acme, beta).",
    }
    assert titles(fixed, "acme") == ["acme-deferred", "acme-immediate"]
    assert titles(fixed, "beta") == ["beta-deferred", "beta-immediate"]
    assert "notes_note" not in fixed.sqlite_tables("default.sqlite3")


# Scenarios, run in a process of the tenant project (TenantProject.scenario)


def _outcome(get: Callable[[], Any]) -> Any:
    try:
        return get()
    except Exception as error:
        return f"{type(error).__name__}: {error}"


def celery(names: list[str]) -> dict[str, Any]:
    """Tasks queued in each tenant, in none, with an unknown tenant's header and with the
    signals disconnected, run by a real worker (its own thread: a fresh context)."""
    from celery.contrib.testing.worker import start_worker

    from django_cfg.tenants import celery as tenant_celery
    from tests.tenants.project.celery_app import add_note, app

    out: dict[str, Any] = {}
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        results = {}
        for name in names:
            with use_tenant(name):
                results[name] = add_note.delay(f"{name}-celery")
        results["none"] = add_note.delay("none-celery")
        results["unknown"] = add_note.apply_async(
            ("nosuch-celery",), headers={tenant_celery.HEADER: "nosuch"}
        )
        for key, result in results.items():
            out[key] = _outcome(lambda result=result: result.get(timeout=30))
        tenant_celery.disconnect()
        try:
            with use_tenant(names[0]):
                unsent = add_note.delay(f"{names[0]}-unsent")
            out["disconnected"] = _outcome(lambda: unsent.get(timeout=30))
        finally:
            tenant_celery.connect()
    return out


def celery_eager(names: list[str]) -> dict[str, Any]:
    """Tasks run eagerly (``apply()``, as ``task_always_eager`` does) inside ``names[0]``: in the
    caller's tenant, or in the tenant of a header given with them."""
    from django_cfg.tenants import celery as tenant_celery
    from tests.tenants.project.celery_app import add_note

    first, second = names
    out: dict[str, Any] = {}
    with use_tenant(first):
        out["caller"] = _outcome(lambda: add_note.apply((f"{first}-eager",)).get())
        header = {tenant_celery.HEADER: second}
        out["header"] = _outcome(lambda: add_note.apply((f"{second}-eager",), headers=header).get())
        out["after"] = current_tenant()
    return out


def django_task_pins(names: list[str]) -> dict[str, Any]:
    """In tenant NAME: a note written, then ``read_notes`` enqueued on the deferred backend; a
    worker thread (a fresh context) runs the stored task after a JSON round trip of its
    arguments, and another one without the read-your-writes markers."""
    import pickle
    import threading

    from django_cfg.tenants.tasks import PINS_KWARG
    from tests.tenants.project.notes.models import Note
    from tests.tenants.project.notes.tasks import read_notes

    (name,) = names
    with use_tenant(name):
        Note.objects.create(title=f"{name}-new")
        result = read_notes.using(backend="deferred").enqueue()
    task = pickle.loads(pickle.dumps(result.task))
    args, kwargs = json.loads(json.dumps([result.args, result.kwargs]))
    out: dict[str, Any] = {"carried": sorted(kwargs)}
    without = {key: value for key, value in kwargs.items() if key != PINS_KWARG}

    def worker(run: str, arguments: dict[str, Any]) -> None:
        out[run] = task.call(*args, **arguments)

    for run, arguments in (("with_pins", kwargs), ("without_pins", without)):
        thread = threading.Thread(target=worker, args=(run, arguments))
        thread.start()
        thread.join()
    return out


def django_tasks(names: list[str]) -> dict[str, Any]:
    """Django's tasks framework: the immediate backend, and the deferred (dummy) backend's
    stored tasks run by a worker thread after a JSON round trip of their arguments."""
    import pickle
    import threading

    from django.tasks import task_backends

    from tests.tenants.project.notes.tasks import add_note

    out: dict[str, Any] = {"immediate": {}, "deferred": {}}
    for name in [*names, None]:
        with use_tenant(name):
            result = add_note.enqueue(f"{name}-immediate")
        out["immediate"][str(name)] = {
            "status": str(result.status),
            "return": result.return_value if result.status == "SUCCESSFUL" else None,
            "errors": [e.exception_class_path for e in result.errors],
            "kwargs": result.kwargs,
        }
    with use_tenant(names[0]):
        out["tenant_argument"] = _outcome(lambda: add_note.enqueue("x", django_cfg_tenant="beta"))
    deferred = add_note.using(backend="deferred")
    for name in names:
        with use_tenant(name):
            deferred.enqueue(f"{name}-deferred")
    stored = [
        (pickle.dumps(r.task), json.dumps([r.args, r.kwargs]))
        for r in task_backends["deferred"].results
    ]
    unknown = [["nosuch-deferred"], {"django_cfg_tenant": "nosuch"}]
    stored.append((pickle.dumps(add_note), json.dumps(unknown)))

    def worker() -> None:  # a worker: a thread of its own, the task as a backend stores it
        for task_bytes, arguments in stored:
            task = pickle.loads(task_bytes)
            args, kwargs = json.loads(arguments)
            run = functools.partial(task.call, *args, **kwargs)
            out["deferred"][args[0]] = _outcome(run)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    return out
