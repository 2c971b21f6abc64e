"""The everyday tenant commands: create_tenant of several names, --if-not-exists, --domain (and
the middleware resolving a tenant's own domain), list_tenants, tenant_command. SQLite files and
PostgreSQL databases for the tenants."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.tenants.project_support import ENGINES, SQLITE_TEMPLATE, TenantProject, engine_project


@pytest.fixture(params=ENGINES)
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TenantProject]:
    """An empty tenants table; resolver="subdomain"."""
    with engine_project(
        tmp_path, request.param, ("acme", "beta", "gamma"), resolver="subdomain"
    ) as project:
        yield project


def listed(project: TenantProject) -> list[dict[str, object]]:
    tenants: list[dict[str, object]] = json.loads(project.manage("list_tenants", "--json"))
    return tenants


def test_create_tenant_of_several_names_if_not_exists_is_idempotent(
    project: TenantProject,
) -> None:
    first = project.manage("create_tenant", "acme", "beta", "--if-not-exists")
    assert "2 created." in first
    status, again = project.status("create_tenant", "acme", "beta", "gamma", "--if-not-exists")
    assert status == 0, again
    assert "Tenant 'acme': already exists, kept." in again
    assert "Tenant 'beta': already exists, kept." in again
    assert "1 created, 2 already existed." in again
    assert [t["name"] for t in listed(project)] == ["acme", "beta", "gamma"]
    status, out = project.status("create_tenant", "beta", "delta")  # without: exists is an error
    assert status == 1
    assert "beta: Tenant 'beta' already exists." in out
    assert "1 created, 1 failed" in out  # delta was created all the same
    project.manage("drop_tenant", "delta", "--drop-database", "--noinput")


def test_list_tenants_shows_state_database_size_and_domains(project: TenantProject) -> None:
    project.manage("create_tenant", "acme", "--domain", "acme.com", "--domain", "WWW.acme.com.")
    project.manage("create_tenant", "beta")
    tenants = {t["name"]: t for t in listed(project)}
    assert tenants["acme"]["state"] == "ready"
    assert tenants["acme"]["domains"] == ["acme.com", "www.acme.com"]
    assert tenants["beta"]["domains"] == []
    database = str(tenants["acme"]["database"])
    where = project.tenant_url.replace("{tenant}", "acme").partition("://")[2]
    assert database.partition("://")[2] == where  # the scheme as DatabaseConfig writes it
    if "sqlite" in database:
        size = tenants["acme"]["size"]
        assert isinstance(size, int)
        assert size > 0
    else:
        assert tenants["acme"]["size"] is None
    table = project.manage("list_tenants")
    assert table.splitlines()[0].split() == ["name", "state", "database", "domains"]
    assert "acme.com, www.acme.com" in table


def test_a_tenants_own_domain_is_resolved_before_the_subdomain_rule(
    project: TenantProject,
) -> None:
    project.manage("create_tenant", "acme", "--domain", "acme.com")
    project.manage("create_tenant", "beta")
    out = project.scenario(hosts, "acme.com", "acme.com:8000", "beta.example.com", "other.com")
    for mode in ("sync", "async"):
        assert out[mode] == {
            "acme.com": "acme",
            "acme.com:8000": "acme",
            "beta.example.com": "beta",
            "other.com": 404,  # names no tenant: the page needs one
        }
    status, taken = project.status(
        "create_tenant", "beta", "--if-not-exists", "--domain", "acme.com"
    )
    assert status == 1
    assert "--domain acme.com: it is tenant 'acme''s domain already" in taken
    assert project.manage("create_tenant", "beta", "--if-not-exists", "--domain", "beta.org")
    assert {t["name"]: t["domains"] for t in listed(project)}["beta"] == ["beta.org"]
    assert project.scenario(hosts, "beta.org")["sync"] == {"beta.org": "beta"}


@pytest.mark.parametrize("how", ["create_tenant", "add_domains"])
def test_two_processes_claiming_one_domain_at_once_leave_one_owner(
    project: TenantProject, tmp_path: Path, how: str
) -> None:
    if how == "add_domains":
        project.manage("create_tenant", "acme", "beta", "--verbosity", "0")
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    claims = {
        name: project.start(claim_domain, how, name, "shop.com", str(meeting), other)
        for name, other in (("acme", "beta"), ("beta", "acme"))
    }
    outcomes = {name: project.finish(process) for name, process in claims.items()}
    winners = [name for name, outcome in outcomes.items() if outcome == {"claimed": ["shop.com"]}]
    assert len(winners) == 1, outcomes
    (winner,) = winners
    (loser,) = set(outcomes) - {winner}
    error = outcomes[loser]["error"]
    assert f"--domain shop.com: it is tenant {winner!r}'s domain already" in error
    if how == "create_tenant":
        assert f"Tenant {loser!r} was created meanwhile, without the domains shop.com" in error
    tenants = {t["name"]: t["domains"] for t in listed(project)}
    assert tenants == {winner: ["shop.com"], loser: []}
    assert project.scenario(hosts, "shop.com")["sync"] == {"shop.com": winner}


def claim_domain(args: list[str]) -> dict[str, Any]:
    """Tenant NAME claims DOMAIN (HOW: ``create_tenant NAME --domain DOMAIN``, or
    ``add_domains`` of an existing tenant), run in the tenant project beside the claim of tenant
    OTHER: each waits after its check of the domain until OTHER's has been made too (at most
    8 s: longer than a tenant's creation), so that without a lock both checks would pass.
    ``{"claimed": the tenant's domains}`` or ``{"error": message}``."""
    import time

    from django.core.management import CommandError, call_command

    from django_cfg.tenants import domains as module
    from django_cfg.tenants.models import Tenant
    from django_cfg.tenants.registry import current_registry

    registry = current_registry()
    assert registry is not None
    how, name, domain, meeting, other = args
    check = module.checked_domains

    def checked_then_wait(*check_args: Any) -> list[str]:
        checked = check(*check_args)
        (Path(meeting) / name).touch()
        deadline = time.monotonic() + 8
        while not (Path(meeting) / other).exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return checked

    module.checked_domains = checked_then_wait  # type: ignore[assignment]
    try:
        if how == "create_tenant":
            call_command("create_tenant", name, "--domain", domain, verbosity=0)
        else:
            module.add_domains(registry.domains, name, [domain])
    except (CommandError, ValueError) as error:
        return {"error": str(error)}
    return {"claimed": Tenant._default_manager.get(name=name).domains}


def test_names_only_tenants_take_their_domains_from_settings(tmp_path: Path) -> None:
    project = TenantProject(tmp_path, SQLITE_TEMPLATE, names=["acme", "beta"], resolver="subdomain")
    project.extra_env = {"TENANT_TEST_DOMAINS": json.dumps({"Acme.com": "acme"})}
    project.manage("migrate_all", "--verbosity", "0")
    status, out = project.status("create_tenant", "acme", "--domain", "acme.org")
    assert status == 1
    assert "TenantsConfig.names, so no row can keep a tenant's domains" in out
    assert "TenantsConfig.domains = {'acme.org': 'acme'}" in out
    assert project.scenario(hosts, "acme.com")["sync"] == {"acme.com": "acme"}
    assert {t["name"]: t["domains"] for t in listed(project)} == {"acme": ["acme.com"], "beta": []}
    assert "already exists, kept" not in project.manage("create_tenant", "acme", "--if-not-exists")


def test_tenant_command_runs_any_command_in_one_tenant_or_all(project: TenantProject) -> None:
    project.manage("create_tenant", "acme", "beta", "gamma", "--verbosity", "0")
    add = "from tests.tenants.project.notes.models import Note; Note.objects.create(title='x')"
    project.manage("tenant_command", "acme", "shell", "-c", add)
    dumped = json.loads(project.manage("tenant_command", "acme", "dumpdata", "notes.note"))
    assert [row["fields"]["title"] for row in dumped] == ["x"]  # --database tenant_acme added
    project.manage("tenant_command", "acme", "flush", "--noinput")  # Django's own choices
    assert json.loads(project.manage("tenant_command", "acme", "dumpdata", "notes.note")) == []
    out = project.manage("tenant_command", "--all-tenants", "showmigrations", "notes")
    assert out.count("[X] 0001_initial") == 3
    assert "showmigrations: 3 succeeded." in out
    fail_in_beta = (
        "import sys; from django_cfg import current_tenant; "
        "sys.exit(3 if current_tenant() == 'beta' else 0)"
    )
    for parallel in ("1", "2"):
        status, out = project.status(
            "tenant_command", "--all-tenants", "--parallel", parallel, "shell", "-c", fail_in_beta
        )
        assert status == 1, out
        assert "shell: 1 of 3 tenants failed; 2 succeeded, 1 failed:\n  beta: exit status 3" in out
    status, out = project.status("tenant_command", "nosuch", "migrate")
    assert status == 1
    assert "no tenant 'nosuch'" in out


def hosts(hosts: list[str]) -> dict[str, Any]:
    """GET /notes/ with each Host header through the test client (sync), and the async view
    through the middleware in async mode (Django's AsyncClient always adds its own host): the
    tenant each request ran as, or its status code (run in the tenant project)."""
    import asyncio
    import json

    from django.http import Http404
    from django.test import AsyncRequestFactory, Client

    from django_cfg import NoTenantError
    from django_cfg.tenants.middleware import TenantMiddleware
    from tests.tenants.project.urls import notes_async

    client = Client()

    def shown(response: Any) -> Any:
        ok = response.status_code == 200
        return json.loads(response.content)["tenant"] if ok else response.status_code

    async def async_hosts() -> list[Any]:
        middleware = TenantMiddleware(notes_async)
        shown_: list[Any] = []
        for host in hosts:
            request = AsyncRequestFactory().get("/async-notes/")
            request.META["HTTP_HOST"] = host
            try:
                try:
                    shown_.append(shown(await middleware(request)))
                except NoTenantError as error:  # as Django's handler would pass it on
                    middleware.process_exception(request, error)
            except Http404:
                shown_.append(404)
        return shown_

    first = dict(zip(hosts, asyncio.run(async_hosts()), strict=True))  # reads the domains
    return {
        "sync": {host: shown(client.get("/notes/", headers={"host": host})) for host in hosts},
        "async": first,
    }
