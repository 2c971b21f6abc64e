"""Scenarios tests/tenants runs inside the tenant project; each prints one JSON object."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.db import connections
from django.test import AsyncClient, Client

from django_cfg import NoTenantError, UnknownTenantError, current_tenant, use_tenant
from django_cfg.tenants.registry import current_registry
from tests.tenants.project.notes.models import Note, Tag


def routing(names: list[str]) -> dict[str, Any]:
    """Rows per tenant, a user in default, the relation across, on_delete across."""
    acme, beta = names
    out: dict[str, Any] = {}
    user = User.objects.create(username="ann")
    with use_tenant(acme):
        tag = Tag.objects.create(name="t")
        note = Note.objects.create(title=f"{acme}-1", author=user, tag=tag)
        out["acme_note_db"] = note._state.db
        out["acme_author"] = Note.objects.get(pk=note.pk).author.username
        out["acme_user_notes"] = sorted(user.notes.values_list("title", flat=True))
    with use_tenant(beta):
        Note.objects.create(title=f"{beta}-1", author=user)
        out["beta_titles"] = sorted(Note.objects.values_list("title", flat=True))

    @use_tenant(acme)
    def acme_titles() -> list[str]:
        return sorted(Note.objects.values_list("title", flat=True))

    out["decorated"] = acme_titles()
    out["user_db"] = user._state.db
    try:
        Note.objects.count()
    except NoTenantError as error:
        out["no_tenant"] = str(error)
    try:
        with use_tenant("nosuch"):
            Note.objects.count()
    except UnknownTenantError as error:
        out["unknown"] = str(error)
    try:
        use_tenant("../etc")
    except ValueError as error:
        out["invalid"] = str(error)
    try:
        with use_tenant(acme):
            Note.objects.create(title="x", tag=Tag.objects.using("tenant_" + beta).create())
    except ValueError as error:
        out["across_tenants"] = str(error)
    with use_tenant(acme):
        user.delete()  # CASCADE onto acme's notes; beta's notes are beta's (docs/tenants.md)
        out["acme_after_delete"] = sorted(Note.objects.values_list("title", flat=True))
    with use_tenant(beta):
        out["beta_after_delete"] = sorted(Note.objects.values_list("title", flat=True))
    return out


def concurrency(names: list[str]) -> dict[str, Any]:
    """Many asyncio tasks, each for one of the tenants, writing and reading interleaved."""

    async def task(name: str, i: int) -> list[str]:
        async with use_tenant(name):
            await Note.objects.acreate(title=f"{name}-{i}")
            await asyncio.sleep(0)
            seen = [t async for t in Note.objects.values_list("title", flat=True)]
            assert current_tenant() == name
            return [t for t in seen if not t.startswith(f"{name}-")]

    async def main() -> list[list[str]]:
        return await asyncio.gather(*(task(names[i % len(names)], i) for i in range(200)))

    leaks = [leak for found in asyncio.run(main()) for leak in found]
    counts = {}
    for name in names:
        with use_tenant(name):
            counts[name] = Note.objects.count()
    return {"leaks": leaks, "counts": counts}


def requests(names: list[str]) -> dict[str, Any]:
    """The middleware: a tenant per request (sync and concurrent async); 404 when unknown."""
    for name in names:
        with use_tenant(name):
            Note.objects.create(title=f"{name}-page")
    client = Client()
    out: dict[str, Any] = {
        "sync": {n: client.get("/notes/", headers={"x-tenant": n}).json() for n in names},
        "unknown_status": client.get("/notes/", headers={"x-tenant": "nosuch"}).status_code,
        "invalid_status": client.get("/notes/", headers={"x-tenant": "a/b"}).status_code,
    }
    try:
        client.get("/notes/")
    except NoTenantError:
        out["no_tenant_request"] = "NoTenantError"

    async def many() -> list[dict[str, Any]]:
        aclient = AsyncClient()
        responses = await asyncio.gather(
            *(
                aclient.get("/async-notes/", headers={"x-tenant": names[i % len(names)]})
                for i in range(60)
            )
        )
        return [r.json() for r in responses]

    out["async"] = asyncio.run(many())
    return out


def lru(names: list[str]) -> dict[str, Any]:
    """max_open: the least recently used tenants' databases are removed, reopened on use."""
    registry = current_registry()
    assert registry is not None
    seen = []
    for name in [*names, names[0]]:
        with use_tenant(name):
            Note.objects.create(title=f"{name}-lru")
        seen.append(list(registry.open))
    with use_tenant(names[0]):
        titles = sorted(Note.objects.values_list("title", flat=True))
    return {
        "open_after_each": seen,
        "configured": sorted(a for a in connections.settings if a.startswith("tenant_")),
        "first_titles": titles,
    }


def write(names: list[str]) -> dict[str, Any]:
    """One note per tenant, titled after the tenant."""
    for name in names:
        with use_tenant(name):
            Note.objects.create(title=f"{name}-row")
    return {}


def authored(names: list[str]) -> dict[str, Any]:
    """User ann in default, one note of hers per tenant (titled after it) and one by nobody."""
    ann = User.objects.create(username="ann")
    for name in names:
        with use_tenant(name):
            Note.objects.create(title=f"{name}-ann", author=ann)
            Note.objects.create(title=f"{name}-nobody")
    return {"ann": ann.pk}


def late(names: list[str]) -> dict[str, Any]:
    """A tenant created by another process after this one looked for it."""
    import os
    import subprocess
    import sys

    (name,) = names
    out: dict[str, Any] = {}
    try:
        with use_tenant(name):
            Note.objects.count()
    except UnknownTenantError as error:
        out["before"] = str(error)
    subprocess.run(
        [sys.executable, "-m", "tests.tenants.project.run", "manage", "create_tenant", name],
        check=True,
        env=os.environ,
        capture_output=True,
    )
    with use_tenant(name):
        Note.objects.create(title=f"{name}-late")
        out["after"] = sorted(Note.objects.values_list("title", flat=True))
    return out


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


SCENARIOS: dict[str, Callable[[list[str]], dict[str, Any]]] = {
    "routing": routing,
    "concurrency": concurrency,
    "requests": requests,
    "lru": lru,
    "write": write,
    "authored": authored,
    "late": late,
    "celery": celery,
    "celery_eager": celery_eager,
    "django_tasks": django_tasks,
}


def run(scenario: str, names: list[str]) -> None:
    print(json.dumps(SCENARIOS[scenario](names)))
