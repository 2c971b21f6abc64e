"""How the middleware reads a tenant's name from a request (resolve_tenant)."""

from __future__ import annotations

import pytest
from django.http import HttpRequest
from django.test import RequestFactory, override_settings

from django_cfg.tenants.middleware import resolve_tenant


def by_cookie(request: HttpRequest) -> str | None:
    return request.COOKIES.get("tenant")


@override_settings(ALLOWED_HOSTS=["*"])
@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("acme.example.com", "acme"),
        ("acme.example.com:8000", "acme"),
        ("ACME.example.com", "acme"),
        ("acme.localhost", "acme"),
        ("example.com", None),
        ("localhost", None),
        ("127.0.0.1", None),  # IP hosts name no tenant (was "127")
        ("127.0.0.1:8000", None),
        ("192.168.10.20", None),
        ("[::1]", None),
        ("[::1]:8000", None),
        ("[2001:db8::7]:443", None),
        ("acme.example.com.", "acme"),
    ],
)
def test_subdomain(host: str, expected: str | None) -> None:
    request = RequestFactory().get("/", headers={"host": host})
    assert resolve_tenant(request, {"resolver": "subdomain"}) == expected


@override_settings(ALLOWED_HOSTS=["*"])
def test_shared_hosts_name_no_tenant() -> None:
    setting = {"resolver": "subdomain", "shared_hosts": ["example.com", "www.example.com"]}
    factory = RequestFactory()
    for host, expected in {
        "www.example.com": None,
        "www.example.com:8443": None,
        "WWW.EXAMPLE.COM": None,
        "example.com": None,
        "acme.example.com": "acme",
        "www.example.org": "www",  # only the hosts listed
    }.items():
        request = factory.get("/", headers={"host": host})
        assert resolve_tenant(request, setting) == expected, host


def test_header_path_and_callables() -> None:
    factory = RequestFactory()
    request = factory.get("/", headers={"x-tenant": "acme", "x-org": "beta"})
    assert resolve_tenant(request, {"resolver": "header", "header": "X-Tenant"}) == "acme"
    assert resolve_tenant(request, {"resolver": "header", "header": "X-Org"}) == "beta"
    assert resolve_tenant(factory.get("/"), {"resolver": "header", "header": "X-Tenant"}) is None
    request = factory.get("/acme/notes/")
    assert resolve_tenant(request, {"resolver": "path"}) == "acme"
    assert request.path_info == "/acme/notes/"  # unchanged: the URL patterns hold the prefix
    assert resolve_tenant(factory.get("/"), {"resolver": "path"}) is None
    request = factory.get("/")
    request.COOKIES["tenant"] = "gamma"
    assert resolve_tenant(request, {"resolver": by_cookie}) == "gamma"
    dotted = f"{__name__}.by_cookie"
    assert resolve_tenant(request, {"resolver": dotted}) == "gamma"
