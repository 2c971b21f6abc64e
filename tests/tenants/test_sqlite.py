"""A database per tenant on SQLite files: which file holds each row (tests/tenants/project)."""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

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
    out = fixed.scenario("routing", "acme", "beta")
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
    out = fixed.scenario("concurrency", "acme", "beta")
    assert out["leaks"] == []
    assert out["counts"] == {"acme": 100, "beta": 100}
    assert len(titles(fixed, "acme")) == 100
    assert all(title.startswith("acme-") for title in titles(fixed, "acme"))
    assert all(title.startswith("beta-") for title in titles(fixed, "beta"))


def test_the_middleware_selects_the_tenant_per_request(fixed: TenantProject) -> None:
    out = fixed.scenario("requests", "acme", "beta")
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
    out = project.scenario("lru", "a1", "a2", "a3")
    assert out["open_after_each"] == [["a1"], ["a1", "a2"], ["a2", "a3"], ["a3", "a1"]]
    assert out["configured"] == ["tenant_a1", "tenant_a3"]
    assert out["first_titles"] == ["a1-lru", "a1-lru"]  # reopened: its rows are there
    for name in ("a1", "a2", "a3"):
        assert f"{name}-lru" in titles(project, name)


def test_max_open_never_closes_a_tenant_a_context_uses(tmp_path: Path) -> None:
    project = TenantProject(tmp_path, TEMPLATE, names=["u1", "u2", "u3"], max_open=1)
    project.manage("migrate_all", "--verbosity", "0")
    out = project.scenario("in_use", "u1", "u2", "u3")
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
    out = project.scenario("migrate_bounded", str(parallel))
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
    project.scenario("write", "acme", "big_co")
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
    out = project.scenario("late", "gamma")
    assert "no tenant 'gamma'" in out["before"]
    assert out["after"] == ["gamma-late"]
    assert titles(project, "gamma") == ["gamma-late"]


def test_a_process_follows_a_tenant_dropped_and_created_again(tmp_path: Path) -> None:
    """The recreated row may carry the same version as the dropped one: the row's identity
    (its primary key) tells them apart, so no write goes to the dropped, unlinked file."""
    project = TenantProject(tmp_path, TEMPLATE)
    project.manage("migrate_all", "--verbosity", "0")
    project.manage("create_tenant", "gamma")
    out = project.scenario("recycled", "gamma")
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
    assert len(behind) == 24  # 21 + django_cfg_tenants 0002 (replica_urls), 0003 (state, version),
    # 0004 (domains)
    text = project.manage("db_status")
    assert "tenant_acme" in text
    assert "role: tenant" in text
