"""Requests through the tenant middleware: a page that needs a tenant the request does not name
is a 404, never a 500; IP hosts and ``TenantsConfig.shared_hosts`` name no tenant."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from django_cfg import TenantsConfig
from tests.support.spec_page import run_python
from tests.tenants.project_support import ROOT, TenantProject

SHARED = {"/health/": [200, None], "/notes/": [404, None]}  # a shared page, a tenant page
ACME = {"/health/": [200, "acme"], "/notes/": [200, "acme"]}
UNKNOWN = {"/health/": [404, None], "/notes/": [404, None]}


def requests(project: TenantProject) -> dict[str, Any]:
    output = run_python(
        "-m", "tests.tenants.scenarios_context", "requests", cwd=ROOT, env=project.env
    )  # fmt: skip
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def test_pages_per_host_and_header(fixed: TenantProject) -> None:
    out = requests(fixed)
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
