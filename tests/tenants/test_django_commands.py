"""Django's own commands in a tenant project: ``--database tenant_<name>`` for migrate, dumpdata,
loaddata, shell, dbshell, sqlmigrate and showmigrations; plain ``migrate`` says that the tenants
are migrate_all's; ``dumpdata <tenant app>`` without a tenant is an error; ``migrate_all`` keeps
Django's notice of model changes without a migration. SQLite files and PostgreSQL databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tenants.project_support import ENGINES, SQLITE_TEMPLATE, TenantProject, engine_project


@pytest.fixture(params=ENGINES)
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TenantProject]:
    """Tenants acme and beta in the tenants table, created by create_tenant; no notes yet."""
    with engine_project(tmp_path, request.param, ("acme", "beta")) as project:
        project.manage("create_tenant", "acme", "beta", "--verbosity", "0")
        yield project


def add_note(project: TenantProject, name: str, title: str) -> None:
    code = (
        f"from tests.tenants.project.notes.models import Note; Note.objects.create(title={title!r})"
    )
    project.manage("shell", "--database", f"tenant_{name}", "-c", code)


def test_dumpdata_and_loaddata_take_a_tenant_database(
    project: TenantProject, tmp_path: Path
) -> None:
    add_note(project, "acme", "acme's note")
    dumped = json.loads(project.manage("dumpdata", "notes.note", "--database", "tenant_acme"))
    assert [row["fields"]["title"] for row in dumped] == ["acme's note"]
    assert json.loads(project.manage("dumpdata", "notes.note", "--database", "tenant_beta")) == []
    fixture = tmp_path / "acme.json"
    fixture.write_text(json.dumps(dumped))
    out = project.manage("loaddata", str(fixture), "--database", "tenant_beta")
    assert "Installed 1 object(s) from 1 fixture(s)" in out
    again = json.loads(project.manage("dumpdata", "notes.note", "--database", "tenant_beta"))
    assert [row["fields"]["title"] for row in again] == ["acme's note"]


def test_dumpdata_of_a_tenant_app_without_a_tenant_is_an_error_naming_the_fix(
    project: TenantProject,
) -> None:
    status, out = project.status("dumpdata", "notes")
    assert status == 1
    assert "notes: a tenant app (TenantsConfig.apps)" in out
    assert "manage.py dumpdata notes --database tenant_<name>" in out
    assert "manage.py dumpdata_all" in out
    assert "[]" not in out


def test_loaddata_of_tenant_objects_without_a_tenant_is_an_error_and_loads_nothing(
    project: TenantProject, tmp_path: Path
) -> None:
    fixture = tmp_path / "mixed.json"
    user = {"model": "auth.group", "pk": 1, "fields": {"name": "editors"}}
    note = {"model": "notes.note", "pk": 1, "fields": {"title": "acme's note"}}
    fixture.write_text(json.dumps([user, note]))
    status, out = project.status("loaddata", str(fixture))
    assert status == 1
    assert f"notes.Note (fixture {fixture}): a tenant app (TenantsConfig.apps)" in out
    assert f"manage.py loaddata {fixture} --database tenant_<name>" in out
    assert f"manage.py tenant_command <name> loaddata {fixture}" in out
    assert "Installed" not in out
    # loaddata's transaction is rolled back: the shared row before the note is not kept
    groups = "from django.contrib.auth.models import Group; print(Group.objects.count())"
    assert project.manage("shell", "-c", groups).splitlines()[-1] == "0"
    # the fix the error names loads the note into the tenant (the group is default's: skipped)
    out = project.manage("loaddata", str(fixture), "--database", "tenant_acme")
    assert "Installed 1 object(s) (of 2) from 1 fixture(s)" in out
    # an excluded tenant app is skipped as Django skips it, with no error
    out = project.manage("loaddata", str(fixture), "-e", "notes")
    assert "Installed 1 object(s) (of 2) from 1 fixture(s)" in out
    assert project.manage("shell", "-c", groups).splitlines()[-1] == "1"


def test_shell_runs_with_the_tenant_selected(project: TenantProject) -> None:
    add_note(project, "beta", "beta's")
    code = (
        "from django_cfg import current_tenant; from tests.tenants.project.notes.models import "
        "Note; print(current_tenant(), list(Note.objects.values_list('title', flat=True)))"
    )
    out = project.manage("shell", "--database", "tenant_beta", "-c", code)
    assert 'beta ["beta\'s"]' in out


def test_migrate_sqlmigrate_showmigrations_and_dbshell_take_a_tenant_database(
    project: TenantProject,
) -> None:
    out = project.manage("migrate", "--database", "tenant_acme")
    assert "No migrations to apply." in out
    assert "not migrated" not in out  # the tenant's own database: no notice
    shown = project.manage("showmigrations", "notes", "--database", "tenant_beta")
    assert "[X] 0001_initial" in shown
    sql = project.manage("sqlmigrate", "notes", "0001", "--database", "tenant_acme")
    assert 'CREATE TABLE "notes_note"' in sql
    if "sqlite" in project.tenant_url:  # dbshell needs the engine's client program
        tables = project.manage("dbshell", "--database", "tenant_acme", "--", ".tables")
        assert "notes_note" in tables


def test_an_unknown_tenant_database_is_refused_saying_where_tenants_come_from(
    project: TenantProject,
) -> None:
    status, out = project.status("migrate", "--database", "tenant_nosuch")
    assert status == 1
    assert "--database tenant_nosuch: no tenant 'nosuch'" in out
    assert "create_tenant nosuch" in out
    status, out = project.status("migrate", "--database", "nosuch")
    assert status == 2
    assert "invalid choice: 'nosuch' (choose from 'default', 'tenant_<name>')" in out


def test_plain_migrate_says_that_migrate_all_migrates_the_tenants(project: TenantProject) -> None:
    status, out = project.status("migrate")
    assert status == 0
    assert "The tenant apps (notes) were not migrated" in out
    assert "Run: manage.py migrate_all" in out
    status, quiet = project.status("migrate", "--verbosity", "0")
    assert (status, quiet) == (0, "")


def test_migrate_all_keeps_djangos_notice_of_changes_without_a_migration(
    tmp_path: Path,
) -> None:
    project = TenantProject(tmp_path, SQLITE_TEMPLATE, names=["acme"])
    project.extra_env = {"TENANT_TEST_UNMIGRATED_FIELD": "1"}
    out = project.manage("migrate_all")
    assert (
        "Your models in app(s): 'notes' have changes that are not yet reflected in a migration, "
        "and so won't be applied." in out
    )
    assert "re-run 'manage.py migrate_all' to apply them" in out
    project.extra_env = {}
    assert "Your models" not in project.manage("migrate_all")
