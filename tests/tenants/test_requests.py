"""Requests through the tenant middleware: a page that needs a tenant the request does not name
is a 404, never a 500; IP hosts and ``TenantsConfig.shared_hosts`` name no tenant."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import path
from pydantic import ValidationError

from django_cfg import TenantsConfig, current_tenant, use_tenant
from tests.tenants.project_support import TenantProject

SHARED = {"/health/": [200, None], "/notes/": [404, None]}  # a shared page, a tenant page
ACME = {"/health/": [200, "acme"], "/notes/": [200, "acme"]}
UNKNOWN = {"/health/": [404, None], "/notes/": [404, None]}


def test_pages_per_host_and_header(fixed: TenantProject) -> None:
    out = fixed.scenario(pages)
    header = out["header"]
    assert header["no header"] == SHARED  # the tenant page was a 500 (NoTenantError)
    assert header["empty X-Tenant"] == SHARED
    assert header["acme"] == ACME
    assert header["nosuch"] == UNKNOWN
    assert out["async_no_tenant"] == 404
    subdomain = out["subdomain"]
    for host in ("127.0.0.1", "127.0.0.1:8000", "10.0.0.12", "[::1]", "[::1]:8000"):
        assert subdomain[host] == SHARED, host  # 127.0.0.1 was tenant "127": 404 everywhere
    for host in ("example.com", "www.example.com", "WWW.Example.com:443"):
        assert subdomain[host] == SHARED, host  # the bare domain and a shared host
    assert subdomain["acme.example.com"] == ACME
    assert subdomain["acme.example.com:8000"] == ACME
    assert subdomain["nosuch.example.com"] == UNKNOWN
    assert subdomain["www.example.org"] == UNKNOWN  # not listed: "www" reads as a tenant


def test_shared_hosts_are_validated() -> None:
    config = TenantsConfig(
        apps=["notes"],
        url="sqlite:///t/{tenant}.sqlite3",
        shared_hosts=["Example.com.", " www.example.com"],
    )
    assert config.shared_hosts == ("example.com", "www.example.com")
    assert config.setting()["shared_hosts"] == ["example.com", "www.example.com"]
    assert TenantsConfig(apps=["notes"], url="sqlite:///t/{tenant}.sqlite3").shared_hosts == ()
    bad = {
        "https://example.com": "not a host name",
        "example.com:8000": "not a host name",
        "*.example.com": "not a host name",
        "example.com/admin": "not a host name",
    }
    for host, message in bad.items():
        with pytest.raises(ValidationError, match=message):
            TenantsConfig(apps=["notes"], url="sqlite:///t/{tenant}.sqlite3", shared_hosts=[host])
    with pytest.raises(ValidationError, match="not a string"):
        TenantsConfig(
            apps=["notes"], url="sqlite:///t/{tenant}.sqlite3", shared_hosts="example.com"
        )
    with pytest.raises(ValidationError, match="lists a host twice"):
        TenantsConfig(
            apps=["notes"],
            url="sqlite:///t/{tenant}.sqlite3",
            shared_hosts=["example.com", "EXAMPLE.com"],
        )
    with pytest.raises(ValidationError, match="only applies to resolver='subdomain'"):
        TenantsConfig(
            apps=["notes"],
            url="sqlite:///t/{tenant}.sqlite3",
            resolver="header",
            shared_hosts=["example.com"],
        )


# Scenarios, run in a process of the tenant project (TenantProject.scenario)


def _titles() -> list[str]:
    from tests.tenants.project.notes.models import Note

    return sorted(Note.objects.values_list("title", flat=True))


def health(request: HttpRequest) -> JsonResponse:
    """A shared page: no tenant model."""
    return JsonResponse({"tenant": current_tenant()})


def notes(request: HttpRequest) -> JsonResponse:
    """A tenant page."""
    return JsonResponse({"tenant": current_tenant(), "titles": _titles()})


async def async_notes(request: HttpRequest) -> JsonResponse:
    from tests.tenants.project.notes.models import Note

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


def pages(args: list[str]) -> dict[str, Any]:
    """Shared and tenant pages through the tenant middleware, per resolver and host."""
    from tests.tenants.project.notes.models import Note

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
