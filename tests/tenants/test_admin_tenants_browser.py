"""The tenants table in the admin, in headless Chromium, served by ``manage.py runserver`` of the
tenant project: its list (name, state, domains, database), no "add" and no "delete", a
tenant's domains edited (and a domain of another tenant refused). Tenants on SQLite files and
on PostgreSQL databases; after each step the tenants table is read back with list_tenants."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import Admin, chromium, create_admin, served_project  # noqa: F401 (the fixture server)
from tests.tenants.project_support import ENGINES, TenantProject, engine_project

pytestmark = pytest.mark.browser


@pytest.fixture(params=ENGINES)
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TenantProject]:
    with engine_project(tmp_path, request.param, ("acme", "beta"), resolver="subdomain") as project:
        project.manage("create_tenant", "acme", "--domain", "acme.com", "--verbosity", "0")
        project.manage("create_tenant", "beta", "--verbosity", "0")
        create_admin(project)
        yield project


def domains(project: TenantProject) -> dict[str, list[str]]:
    tenants = json.loads(project.manage("list_tenants", "--json"))
    return {tenant["name"]: tenant["domains"] for tenant in tenants}


def test_the_tenants_table_in_chromium(
    project: TenantProject, server: str, request: pytest.FixtureRequest
) -> None:
    with chromium(request.node.name) as driver:
        admin = Admin(driver, server)
        admin.log_in()
        assert "Tenants" in admin.text()

        admin.open("/admin/django_cfg_tenants/tenant/")
        lines = admin.text().splitlines()
        acme = next(line for line in lines if line.startswith("acme "))
        assert "ready" in acme
        assert "acme.com" in acme
        assert project.tenant_url.replace("{tenant}", "acme").partition("://")[2] in acme
        assert any(line.startswith("beta ready") for line in lines), lines
        assert "Create, drop and move tenants with manage.py create_tenant" in admin.text()
        assert not driver.find_elements("css selector", "#content a.addlink")  # no "Add tenant"
        assert not driver.find_elements("css selector", "option[value=delete_selected]")

        admin.open("/admin/django_cfg_tenants/tenant/")
        driver.find_element("link text", "acme").click()
        admin.loaded()
        assert not driver.find_elements("css selector", "#id_name")  # read only
        field = admin.css("#id_domains")
        field.clear()
        field.send_keys("acme.com, WWW.acme.com")
        admin.submit("input[name=_save]")
        assert "was changed successfully" in admin.text()
        assert domains(project) == {"acme": ["acme.com", "www.acme.com"], "beta": []}

        admin.open("/admin/django_cfg_tenants/tenant/")
        driver.find_element("link text", "beta").click()
        admin.loaded()
        admin.css("#id_domains").send_keys("www.acme.com")
        admin.submit("input[name=_save]")
        assert "it is tenant 'acme''s domain already" in admin.text()
        assert domains(project)["beta"] == []
