"""Scenarios of test_context.py and test_requests.py, run in the tenant project:
``python -m tests.tenants.scenarios_context NAME`` prints one JSON object."""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connections, transaction  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.test import AsyncClient, Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402

from django_cfg import current_tenant, use_tenant  # noqa: E402
from django_cfg.tenants.registry import current_registry  # noqa: E402
from tests.tenants.project.notes.models import Note  # noqa: E402


def _titles() -> list[str]:
    return sorted(Note.objects.values_list("title", flat=True))


def _error(call: Any) -> str:
    try:
        call()
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return "no error"


def writes() -> dict[str, Any]:
    """Writes around generators suspended in their block; QuerySets across tenants; atomic."""
    out: dict[str, Any] = {}
    with use_tenant("acme"):
        Note.objects.create(title="acme-1")
        Note.objects.create(title="acme-2")
    with use_tenant("beta"):
        Note.objects.create(title="beta-1")

    def acme_notes() -> Iterator[str]:
        with use_tenant("acme"):
            for note in Note.objects.order_by("title"):
                yield note.title
            Note.objects.create(title="acme-from-generator")

    with use_tenant("beta"):
        rows = acme_notes()
        read = [next(rows)]
        Note.objects.create(title="beta-from-consumer")  # beta's, not acme's
        read += list(rows)
        out["generator_read"] = read
        rows = acme_notes()
        next(rows)  # left suspended inside its acme block, collected below
    del rows
    gc.collect()
    out["after_collection"] = [current_tenant(), _error(Note.objects.count).partition(":")[0]]

    async def acme_stream() -> AsyncIterator[str]:
        async with use_tenant("acme"):
            async for note in Note.objects.order_by("title"):
                yield note.title

    async def consume() -> None:
        async with use_tenant("beta"):
            async for _title in acme_stream():
                await Note.objects.acreate(title="beta-from-async-consumer")
                break

    asyncio.run(consume())
    registry = current_registry()
    assert registry is not None
    out["in_use"] = dict(registry._in_use)
    _querysets(out)
    _atomic(out)
    return out


def _querysets(out: dict[str, Any]) -> None:
    with use_tenant("acme"):
        built = Note.objects.filter(title__endswith="-1")
        cached = Note.objects.filter(title__in=["acme-1", "acme-2"]).order_by("title")
        list(cached)
        pinned = Note.objects.using("tenant_acme").filter(title__in=["acme-1", "acme-2"])
        row = Note.objects.get(title="acme-1")
    with use_tenant("beta"):
        out["built_in_acme_run_in_beta"] = sorted(n.title for n in built)
        out["run_in_acme_then_iterated_in_beta"] = [n.title for n in cached]
        out["pinned_with_using"] = sorted(n.title for n in pinned)
        row.title = "acme-1-saved-in-beta"
        out["acme_row_saved_in_beta"] = _error(row.save)


class Rollback(Exception):
    pass


def _atomic(out: dict[str, Any]) -> None:
    with use_tenant("acme"):
        try:
            with transaction.atomic():  # a transaction of default: acme's write is not in it
                Note.objects.create(title="atomic-default-rolled-back")
                raise Rollback
        except Rollback:
            pass
        try:
            with transaction.atomic(using="tenant_acme"):
                Note.objects.create(title="atomic-tenant")
                raise Rollback
        except Rollback:
            pass
        gone = not Note.objects.filter(title="atomic-tenant").exists()
        out["atomic_using_tenant"] = "rolled back" if gone else "kept"


def health(request: HttpRequest) -> JsonResponse:
    """A shared page: no tenant model."""
    return JsonResponse({"tenant": current_tenant()})


def notes(request: HttpRequest) -> JsonResponse:
    """A tenant page."""
    return JsonResponse({"tenant": current_tenant(), "titles": _titles()})


async def async_notes(request: HttpRequest) -> JsonResponse:
    titles = sorted([t async for t in Note.objects.values_list("title", flat=True)])
    return JsonResponse({"tenant": current_tenant(), "titles": titles})


urlpatterns = [
    path("health/", health),
    path("notes/", notes),
    path("async-notes/", async_notes),
]


def _get(client: Client, url: str, **headers: str) -> list[Any]:
    """[status, the page's tenant] of a GET, or [the exception the test client re-raised]."""
    try:
        response = client.get(url, headers=headers)
    except Exception as error:  # a 500: the test client raises the view's exception
        return [type(error).__name__]
    tenant = response.json()["tenant"] if response.status_code == 200 else None
    return [response.status_code, tenant]


SUBDOMAIN_HOSTS = [
    "127.0.0.1",
    "127.0.0.1:8000",
    "10.0.0.12",
    "[::1]",
    "[::1]:8000",
    "example.com",
    "www.example.com",
    "WWW.Example.com:443",
    "acme.example.com",
    "acme.example.com:8000",
    "nosuch.example.com",
    "www.example.org",
]


def requests() -> dict[str, Any]:
    """Shared and tenant pages through the tenant middleware, per resolver and host."""
    with use_tenant("acme"):
        Note.objects.create(title="acme-page")
    out: dict[str, Any] = {"header": {}, "subdomain": {}}
    client = Client()
    with override_settings(ROOT_URLCONF=__name__):
        for label, headers in {
            "no header": {},
            "empty X-Tenant": {"x-tenant": ""},
            "acme": {"x-tenant": "acme"},
            "nosuch": {"x-tenant": "nosuch"},
        }.items():
            out["header"][label] = {
                url: _get(client, url, **headers) for url in ("/health/", "/notes/")
            }

        async def async_page() -> int:
            return (await AsyncClient().get("/async-notes/", headers={"x-tenant": ""})).status_code

        out["async_no_tenant"] = asyncio.run(async_page())
        setting = {
            **settings.DJANGO_CFG_TENANTS,
            "resolver": "subdomain",
            "shared_hosts": ["example.com", "www.example.com"],
        }
        with override_settings(DJANGO_CFG_TENANTS=setting):
            for host in SUBDOMAIN_HOSTS:
                out["subdomain"][host] = {
                    url: _get(client, url, host=host) for url in ("/health/", "/notes/")
                }
    return out


def first_use() -> dict[str, Any]:
    """A process whose first use of its tenants names their aliases (a Celery task's shape)."""
    acme, beta = sys.argv[2:4]
    registry = current_registry()
    assert registry is not None
    out: dict[str, Any] = {"open_before": list(registry.open)}
    with transaction.atomic(using=f"tenant_{acme}"):
        note = Note.objects.using(f"tenant_{acme}").create(title="first-use")
    out["saved_to"] = note._state.db
    try:
        with transaction.atomic(using=f"tenant_{acme}"):
            Note.objects.using(f"tenant_{acme}").create(title="rolled-back")
            raise Rollback
    except Rollback:
        pass
    with connections[f"tenant_{beta}"].cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM notes_note")
        out["beta_count"] = cursor.fetchone()[0]
    out["open_after"] = sorted(registry.open)
    out["unknown"] = _error(lambda: connections["tenant_nosuch"])
    out["not_a_tenant"] = _error(lambda: connections["nosuch"])
    out["invalid"] = _error(lambda: connections["tenant_../x"])
    return out


SCENARIOS = {"writes": writes, "requests": requests, "first_use": first_use}


if __name__ == "__main__":  # NAME [ARGS]
    print(json.dumps(SCENARIOS[sys.argv[1]]()))
