"""Scenarios tests/tenants runs inside the tenant project; each prints one JSON object."""

from __future__ import annotations

import asyncio
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


def migrate_bounded(names: list[str]) -> dict[str, Any]:
    """migrate_all --parallel N (``names[0]``) with max_open: how many tenant databases were
    open at most, measured each time the registry opens one."""
    import io

    from django.core.management import call_command

    registry = current_registry()
    assert registry is not None
    peak = 0
    bound = registry._bound

    def watched() -> None:
        nonlocal peak
        peak = max(peak, len(registry.open))
        bound()

    registry._bound = watched  # type: ignore[method-assign]
    out = io.StringIO()
    call_command("migrate_all", parallel=int(names[0]), stdout=out, verbosity=1)
    configured = sorted(a for a in connections.settings if a.startswith("tenant_"))
    return {"peak": peak, "open_after": list(registry.open), "configured": configured,
            "out": out.getvalue()}  # fmt: skip


SCENARIOS: dict[str, Callable[[list[str]], dict[str, Any]]] = {
    "migrate_bounded": migrate_bounded,
    "routing": routing,
    "concurrency": concurrency,
    "requests": requests,
    "lru": lru,
    "write": write,
    "late": late,
}


def run(scenario: str, names: list[str]) -> None:
    print(json.dumps(SCENARIOS[scenario](names)))
