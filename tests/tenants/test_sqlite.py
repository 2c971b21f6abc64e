"""A database per tenant on SQLite files: which file holds each row (tests/tenants/project)."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.test import AsyncClient, Client

from django_cfg import NoTenantError, UnknownTenantError, current_tenant, use_tenant
from django_cfg.settings.tenant_names import tenant_alias
from django_cfg.tenants.registry import current_registry
from tests.tenants.project.scenarios import write
from tests.tenants.project_support import SQLITE_TEMPLATE as TEMPLATE
from tests.tenants.project_support import TenantProject
from tests.tenants.project_support import sqlite_titles as titles


def test_migrate_all_puts_tenant_apps_in_each_tenant_file_only(fixed: TenantProject) -> None:
    default = fixed.sqlite_tables("default.sqlite3")
    assert {"auth_user", "django_cfg_tenant", "django_cfg_deleteintent"} <= default
    assert not {"notes_note", "notes_tag"} & default
    for name in ("acme", "beta"):
        tables = fixed.sqlite_tables(f"tenants/{name}.sqlite3")
        assert {"notes_note", "notes_tag", "django_cfg_deleteintent"} <= tables
        assert not {"auth_user", "django_cfg_tenant", "django_session"} & tables
    # up to date: a second run applies nothing
    out = fixed.manage("migrate_all")
    assert "tenant_acme: up to date" in out
    assert "tenant_beta: up to date" in out


def test_rows_land_in_their_tenant_file_and_relations_cross_to_default(
    fixed: TenantProject,
) -> None:
    out = fixed.scenario(routing, "acme", "beta")
    assert out["acme_note_db"] == "tenant_acme"
    assert out["user_db"] == "default"
    assert out["acme_author"] == "ann"  # the ForeignKey read across, from default
    assert out["acme_user_notes"] == ["acme-1"]  # the reverse side: this tenant's notes
    assert out["beta_titles"] == ["beta-1"]
    assert out["decorated"] == ["acme-1"]
    assert "no tenant is selected" in out["no_tenant"]
    assert "use_tenant" in out["no_tenant"]
    assert "notes.Note" in out["no_tenant"]
    assert "no tenant 'nosuch'" in out["unknown"]
    assert "invalid tenant name" in out["invalid"]
    assert "rows of two tenants are never related" in out["across_tenants"]
    # on_delete=CASCADE across databases, in every tenant (test_shared_delete.py)
    assert out["acme_after_delete"] == []
    assert out["beta_after_delete"] == []
    # What the files themselves hold
    assert titles(fixed, "acme") == []
    assert titles(fixed, "beta") == []
    users = fixed.sqlite_rows("default.sqlite3", "SELECT username FROM auth_user")
    assert users == []  # deleted (in acme's context), its acme notes with it


def test_concurrent_asyncio_tasks_never_see_another_tenants_rows(fixed: TenantProject) -> None:
    out = fixed.scenario(concurrency, "acme", "beta")
    assert out["leaks"] == []
    assert out["counts"] == {"acme": 100, "beta": 100}
    assert len(titles(fixed, "acme")) == 100
    assert all(title.startswith("acme-") for title in titles(fixed, "acme"))
    assert all(title.startswith("beta-") for title in titles(fixed, "beta"))


def test_the_middleware_selects_the_tenant_per_request(fixed: TenantProject) -> None:
    out = fixed.scenario(requests, "acme", "beta")
    assert out["sync"]["acme"] == {"tenant": "acme", "titles": ["acme-page"]}
    assert out["sync"]["beta"] == {"tenant": "beta", "titles": ["beta-page"]}
    assert out["unknown_status"] == 404
    assert out["invalid_status"] == 404
    assert out["no_tenant_status"] == 404
    assert len(out["async"]) == 60
    for response in out["async"]:  # 60 concurrent ASGI requests, alternating tenants
        assert response["titles"] == [f"{response['tenant']}-page"]


def test_least_recently_used_tenants_are_closed_past_max_open(tmp_path: Path) -> None:
    project = TenantProject(tmp_path, TEMPLATE, names=["a1", "a2", "a3"], max_open=2)
    project.manage("migrate_all", "--verbosity", "0")
    out = project.scenario(lru, "a1", "a2", "a3")
    assert out["open_after_each"] == [["a1"], ["a1", "a2"], ["a2", "a3"], ["a3", "a1"]]
    assert out["configured"] == ["tenant_a1", "tenant_a3"]
    assert out["first_titles"] == ["a1-lru", "a1-lru"]  # reopened: its rows are there
    for name in ("a1", "a2", "a3"):
        assert f"{name}-lru" in titles(project, name)


def test_max_open_never_closes_a_tenant_a_context_uses(tmp_path: Path) -> None:
    project = TenantProject(tmp_path, TEMPLATE, names=["u1", "u2", "u3"], max_open=1)
    project.manage("migrate_all", "--verbosity", "0")
    out = project.scenario(in_use, "u1", "u2", "u3")
    # u1 selected (and queried) by a thread: u2 and u3 opened meanwhile close each other, and
    # u3 is closed when its block releases it (max_open=1 applies again at once)
    assert out["open_meanwhile"] == ["u1"]
    assert out["configured_meanwhile"] is True
    assert out["titles_after"] == ["u1-in-use"]
    # once no context uses u1, the next open closes it (max_open=1 again)
    assert out["open_after"] == ["u2"]
    assert titles(project, "u1") == ["u1-in-use"]


@pytest.mark.parametrize("parallel", [1, 3])
def test_migrate_all_keeps_max_open_while_it_runs(tmp_path: Path, parallel: int) -> None:
    names = [f"m{i}" for i in range(6)]
    project = TenantProject(tmp_path, TEMPLATE, names=names, max_open=2)
    out = project.scenario(migrate_bounded, str(parallel))
    for name in names:
        assert f"tenant_{name}: 2 applied" in out["out"]
        assert "notes_note" in project.sqlite_tables(f"tenants/{name}.sqlite3")
    # Each worker keeps the tenant it migrates open: at most max(max_open, workers) + the
    # one just opened before the least recently used is closed.
    assert out["peak"] <= max(2, parallel) + 1
    assert len(out["open_after"]) <= 2
    assert len(out["configured"]) <= 2


def test_registry_table_create_use_and_drop_tenants(tmp_path: Path) -> None:
    project = TenantProject(tmp_path, TEMPLATE)
    project.manage("migrate_all", "--verbosity", "0")
    out = project.manage("create_tenant", "acme")
    assert "Tenant 'acme': database sqlite:///" in out
    assert "created" in out
    assert project.sqlite_rows("default.sqlite3", "SELECT name, url FROM django_cfg_tenant") == [
        ("acme", "")
    ]
    assert {"notes_note"} <= project.sqlite_tables("tenants/acme.sqlite3")
    # placed elsewhere than the template says
    elsewhere = tmp_path / "big" / "big_co.sqlite3"
    project.manage("create_tenant", "big_co", "--url", f"sqlite:///{elsewhere}")
    project.scenario(write, "acme", "big_co")
    assert titles(project, "acme") == ["acme-row"]
    with closing(sqlite3.connect(elsewhere)) as connection:
        assert connection.execute("SELECT title FROM notes_note").fetchall() == [("big_co-row",)]
    assert not (tmp_path / "tenants" / "big_co.sqlite3").exists()

    again = project.manage("create_tenant", "acme", check=False)
    assert "Tenant 'acme' already exists." in again
    bad = project.manage("create_tenant", "Bad/Name", check=False)
    assert "invalid tenant name" in bad
    unknown = project.manage("migrate_all", "--tenant", "nosuch", check=False)
    assert "no tenant 'nosuch'" in unknown
    assert "create_tenant nosuch" in unknown

    out = project.manage("drop_tenant", "acme", "--drop-database", "--noinput")
    assert "Tenant 'acme' removed; database sqlite:///" in out
    assert not (tmp_path / "tenants" / "acme.sqlite3").exists()
    assert project.sqlite_rows("default.sqlite3", "SELECT name FROM django_cfg_tenant") == [
        ("big_co",)
    ]
    gone = project.manage("drop_tenant", "acme", "--noinput", check=False)
    assert "no tenant 'acme'" in gone


def test_a_tenant_created_while_a_process_runs_is_usable_there(tmp_path: Path) -> None:
    project = TenantProject(tmp_path, TEMPLATE)
    project.manage("migrate_all", "--verbosity", "0")
    out = project.scenario(late, "gamma")
    assert "no tenant 'gamma'" in out["before"]
    assert out["after"] == ["gamma-late"]
    assert titles(project, "gamma") == ["gamma-late"]


def test_a_process_follows_a_tenant_dropped_and_created_again(tmp_path: Path) -> None:
    """The recreated row may carry the same version as the dropped one: the row's identity
    (its primary key) tells them apart, so no write goes to the dropped, unlinked file."""
    project = TenantProject(tmp_path, TEMPLATE)
    project.manage("migrate_all", "--verbosity", "0")
    project.manage("create_tenant", "gamma")
    out = project.scenario(recycled, "gamma")
    assert out["before"] == []
    assert titles(project, "gamma") == ["gamma-new"]


def test_migrate_all_isolates_a_failing_tenant(tmp_path: Path) -> None:
    project = TenantProject(tmp_path, TEMPLATE)
    project.manage("migrate_all", "--verbosity", "0")
    for name in ("t1", "t2"):
        project.manage("create_tenant", name)
    (tmp_path / "blocker").write_text("a file where a folder should be")
    with closing(sqlite3.connect(tmp_path / "default.sqlite3")) as connection:
        connection.execute(
            "INSERT INTO django_cfg_tenant (name, url, replica_urls, created) VALUES "
            f"('broken', 'sqlite:///{tmp_path}/blocker/x.sqlite3', '[]', '2026-01-01'), "
            "('t3', '', '[]', '2026-01-01')"
        )
        connection.commit()
    for parallel in ("1", "3"):
        run = project.manage("migrate_all", "--parallel", parallel, check=False)
        assert "1 of 5 databases failed to migrate" in run
        assert "tenant_broken: cannot open its database" in run
        # the four others counted, not listed; the failed one named
        assert "1 failed:\n  tenant_broken: cannot open its database" in run
        counts = re.search(r"1 of 5 databases failed to migrate; (.*), 1 failed:", run)
        assert counts is not None, run
        assert sum(int(part.split()[0]) for part in counts[1].split(", ")) == 4
    assert {"notes_note"} <= project.sqlite_tables("tenants/t3.sqlite3")
    # one tenant only
    only = project.manage("migrate_all", "--tenant", "t1")
    assert "tenant_t1: up to date" in only
    assert "default" not in only
    assert "tenant_t2" not in only


def test_check_and_plan_cover_every_tenant(fixed: TenantProject) -> None:
    check = fixed.manage("migrate_all", "--check")
    assert "tenant_acme: up to date" in check
    assert "tenant_beta: up to date" in check
    refused = fixed.manage("create_tenant", "gamma", check=False)  # listed tenants only
    assert "Tenant 'gamma' is not in TenantsConfig.names" in refused
    plan = fixed.manage("migrate_all", "--plan", "--tenant", "acme")
    assert "Planned operations on tenant_acme:" in plan
    assert "No planned migration operations." in plan


def test_check_reports_a_tenant_behind(tmp_path: Path) -> None:
    project = TenantProject(tmp_path, TEMPLATE, names=["acme", "beta"])
    project.manage("migrate_all", "--database", "default", "--verbosity", "0")
    project.manage("migrate_all", "--tenant", "acme", "--verbosity", "0")
    check = project.manage("migrate_all", "--check", check=False)
    assert "tenant_acme: up to date" in check
    assert "tenant_beta: 2 unapplied: django_cfg.0001_delete_intents, notes.0001_initial" in check
    assert not (tmp_path / "tenants" / "beta.sqlite3").exists() or "notes_note" not in (
        project.sqlite_tables("tenants/beta.sqlite3")
    )
    plan = project.manage("migrate_all", "--plan", "--tenant", "beta")
    assert "notes.0001_initial" in plan
    assert "Create model Note" in plan


def test_db_status_lists_every_tenant(tmp_path: Path) -> None:
    project = TenantProject(tmp_path, TEMPLATE)
    project.manage("migrate_all", "--verbosity", "0")
    project.manage("create_tenant", "acme")
    with closing(sqlite3.connect(tmp_path / "default.sqlite3")) as connection:
        connection.execute(
            "INSERT INTO django_cfg_tenant (name, url, replica_urls, created) "
            "VALUES ('behind', '', '[]', '2026-01-01')"
        )
        connection.commit()
    (tmp_path / "tenants" / "behind.sqlite3").touch()  # its database exists, not migrated
    status = json.loads(project.manage("db_status", "--json"))
    by_alias = {entry["alias"]: entry for entry in status}
    assert list(by_alias) == ["default", "tenant_acme", "tenant_behind"]
    acme = by_alias["tenant_acme"]
    assert acme["role"] == "tenant"
    assert acme["apps"] == ["notes"]
    assert acme["reachable"] is True
    assert acme["pending"] == []
    assert acme["name"].endswith("tenants/acme.sqlite3")
    assert by_alias["default"]["pending"] == []
    behind = by_alias["tenant_behind"]["pending"]  # every migration not recorded there
    assert {"django_cfg.0001_delete_intents", "notes.0001_initial"} <= set(behind)
    # 21 + django_cfg 0002 (the Databases page's proxy model) + django_cfg_tenants 0002
    # (replica_urls), 0003 (state, version), 0004 (domains)
    assert len(behind) == 25
    text = project.manage("db_status")
    assert "tenant_acme" in text
    assert "role: tenant" in text


# Scenarios, run in a process of the tenant project (TenantProject.scenario)


def routing(names: list[str]) -> dict[str, Any]:
    """Rows per tenant, a user in default, the relation across, on_delete across."""
    from django.contrib.auth.models import User

    from tests.tenants.project.notes.models import Note, Tag

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
        user.delete()  # CASCADE onto every tenant's notes (docs/tenants.md)
        out["acme_after_delete"] = sorted(Note.objects.values_list("title", flat=True))
    with use_tenant(beta):
        out["beta_after_delete"] = sorted(Note.objects.values_list("title", flat=True))
    return out


def concurrency(names: list[str]) -> dict[str, Any]:
    """Many asyncio tasks, each for one of the tenants, writing and reading interleaved."""
    from tests.tenants.project.notes.models import Note

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
    from tests.tenants.project.notes.models import Note

    for name in names:
        with use_tenant(name):
            Note.objects.create(title=f"{name}-page")
    client = Client()
    out: dict[str, Any] = {
        "sync": {n: client.get("/notes/", headers={"x-tenant": n}).json() for n in names},
        "unknown_status": client.get("/notes/", headers={"x-tenant": "nosuch"}).status_code,
        "invalid_status": client.get("/notes/", headers={"x-tenant": "a/b"}).status_code,
    }
    out["no_tenant_status"] = client.get("/notes/").status_code  # a 404, not a 500

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
    from tests.tenants.project.notes.models import Note

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


def in_use(names: list[str]) -> dict[str, Any]:
    """max_open: a tenant one thread has selected (and queried) is not closed while another
    thread opens more tenants; it is closed once no context uses it."""
    import threading

    from tests.tenants.project.notes.models import Note

    registry = current_registry()
    assert registry is not None
    held, others = names[0], names[1:]
    queried, opened = threading.Event(), threading.Event()
    out: dict[str, Any] = {}

    def worker() -> None:
        with use_tenant(held):
            Note.objects.create(title=f"{held}-in-use")
            queried.set()
            opened.wait(30)
            out["configured_meanwhile"] = tenant_alias(held) in connections.settings
            out["titles_after"] = sorted(Note.objects.values_list("title", flat=True))
        connections.close_all()

    thread = threading.Thread(target=worker)
    thread.start()
    queried.wait(30)
    for name in others:
        with use_tenant(name):
            Note.objects.create(title=f"{name}-in-use")
    out["open_meanwhile"] = list(registry.open)
    opened.set()
    thread.join(30)
    with use_tenant(others[0]):  # another open: now the least recently used one closes
        Note.objects.count()
    out["open_after"] = list(registry.open)
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


def late(names: list[str]) -> dict[str, Any]:
    """A tenant created by another process after this one looked for it."""
    import os
    import subprocess
    import sys

    from tests.tenants.project.notes.models import Note

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


def recycled(names: list[str]) -> dict[str, Any]:
    """A tenant dropped (database too) and created again by another process while this one
    had it open: this process must reopen the new database, not write to the dropped one."""
    import os
    import subprocess
    import sys

    from django_cfg.tenants.registry import current_registry
    from tests.tenants.project.notes.models import Note

    (name,) = names
    with use_tenant(name):
        Note.objects.create(title=f"{name}-old")
    for command in (["drop_tenant", name, "--drop-database", "--noinput"], ["create_tenant", name]):
        subprocess.run(
            [sys.executable, "-m", "tests.tenants.project.run", "manage", *command],
            check=True,
            env=os.environ,
            capture_output=True,
        )
    registry = current_registry()
    assert registry is not None
    registry.refresh(name)  # as the next use after recheck_seconds would
    with use_tenant(name):
        before = sorted(Note.objects.values_list("title", flat=True))
        Note.objects.create(title=f"{name}-new")
    return {"before": before}
