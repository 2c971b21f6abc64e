"""dumpdata_all, loaddata_all and repair_relations visit every tenant's database (SQLite files)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from django_cfg import use_tenant
from tests.tenants.project_support import TenantProject

TEMPLATE = "sqlite:///tenants/{tenant}.sqlite3"
NAMES = ["acme", "beta"]


def titles(project: TenantProject, name: str) -> list[str]:
    rows = project.sqlite_rows(f"tenants/{name}.sqlite3", "SELECT title FROM notes_note")
    return sorted(title for (title,) in rows)


def project_with_notes(root: Path) -> TenantProject:
    """acme and beta in the tenants table, user ann in default, two notes per tenant."""
    project = TenantProject(root, TEMPLATE)
    project.manage("migrate_all", "--verbosity", "0")
    for name in NAMES:
        project.manage("create_tenant", name)
    project.scenario(authored, *NAMES)
    return project


def fixture_titles(path: Path) -> list[str]:
    return sorted(
        o["fields"]["title"] for o in json.loads(path.read_text()) if o["model"] == "notes.note"
    )


@pytest.fixture
def project(tmp_path: Path) -> TenantProject:
    return project_with_notes(tmp_path / "project")


def test_dumpdata_all_writes_one_fixture_per_tenant_and_loaddata_all_restores_each(
    project: TenantProject, tmp_path: Path
) -> None:
    backup = tmp_path / "backup"
    out = project.manage(
        "dumpdata_all", "-o", str(backup), "-e", "contenttypes", "-e", "auth.permission"
    )
    assert f"tenant_acme: dumped to {backup / 'tenant_acme.json'}" in out
    assert sorted(p.name for p in backup.iterdir()) == [
        "default.json",
        "tenant_acme.json",
        "tenant_beta.json",
    ]
    assert fixture_titles(backup / "tenant_acme.json") == ["acme-ann", "acme-nobody"]
    assert fixture_titles(backup / "tenant_beta.json") == ["beta-ann", "beta-nobody"]
    shared = json.loads((backup / "default.json").read_text())
    assert {o["model"] for o in shared} >= {"auth.user", "django_cfg_tenants.tenant"}
    assert not [o for o in shared if o["model"].startswith("notes.")]

    # a new project, its tenants created (empty): the backup goes back, each file in its tenant
    restored = TenantProject(tmp_path / "restored", TEMPLATE)
    restored.manage("migrate_all", "--verbosity", "0")
    for name in NAMES:
        restored.manage("create_tenant", name)
    out = restored.manage("loaddata_all", str(backup), "-e", "django_cfg_tenants")
    assert "tenant_acme: installed 2 object(s) from tenant_acme.json" in out
    assert "tenant_beta: installed 2 object(s) from tenant_beta.json" in out
    assert titles(restored, "acme") == ["acme-ann", "acme-nobody"]
    assert titles(restored, "beta") == ["beta-ann", "beta-nobody"]
    users = restored.sqlite_rows("default.sqlite3", "SELECT username FROM auth_user")
    assert users == [("ann",)]


def test_tenant_selects_one_tenants_database(project: TenantProject, tmp_path: Path) -> None:
    backup = tmp_path / "acme-only"
    out = project.manage("dumpdata_all", "-o", str(backup), "--tenant", "acme", "notes")
    assert "default" not in out
    assert [p.name for p in backup.iterdir()] == ["tenant_acme.json"]
    unknown = project.manage(
        "dumpdata_all", "-o", str(tmp_path / "x"), "--tenant", "gamma", check=False
    )
    assert "no tenant 'gamma'" in unknown
    # fixtures (not a directory): every tenant gets the tenant apps' objects, or --tenant's only
    fixture = tmp_path / "seed.json"
    fixture.write_text(
        json.dumps([{"model": "notes.note", "pk": 100, "fields": {"title": "seed"}}])
    )
    out = project.manage("loaddata_all", str(fixture), "--tenant", "beta")
    assert "tenant_beta: installed 1 object(s) from seed.json" in out
    assert "seed" not in titles(project, "acme")
    assert "seed" in titles(project, "beta")
    fixture.write_text(
        json.dumps([{"model": "notes.note", "pk": 101, "fields": {"title": "seed2"}}])
    )
    out = project.manage("loaddata_all", str(fixture))
    assert "default: installed 0 object(s)" in out
    assert "tenant_acme: installed 1 object(s)" in out
    assert "installed on no database" not in out
    assert "seed2" in titles(project, "acme")
    assert "seed2" in titles(project, "beta")
    # --database: the fixed databases only, as before
    fixture.write_text(
        json.dumps([{"model": "notes.note", "pk": 102, "fields": {"title": "seed3"}}])
    )
    out = project.manage("loaddata_all", str(fixture), "--database", "default", check=False)
    assert "tenant_" not in out.split("installed on no database")[0]
    assert "1 object(s) in the fixtures were installed on no database" in out
    assert "seed3" not in titles(project, "acme") + titles(project, "beta")


def test_loaddata_all_refuses_a_tenant_the_directory_has_no_file_for(
    project: TenantProject, tmp_path: Path
) -> None:
    """``loaddata_all DIRECTORY --tenant beta`` with no ``tenant_beta.*`` in it loaded nothing
    and said nothing (exit 0): a restore that silently did not happen."""
    backup = tmp_path / "acme-only"
    project.manage("dumpdata_all", "-o", str(backup), "--tenant", "acme", "notes")
    out = project.manage("loaddata_all", str(backup), "--tenant", "beta", check=False)
    assert f"--tenant beta: {backup} has no tenant_beta.* fixture" in out
    assert "Nothing was loaded." in out
    with closing(sqlite3.connect(project.root / "tenants" / "acme.sqlite3")) as connection:
        connection.execute("DELETE FROM notes_note")
        connection.commit()
    out = project.manage(
        "loaddata_all", str(backup), "--tenant", "acme", "--tenant", "beta", check=False
    )
    assert "has no tenant_beta.* fixture" in out
    assert titles(project, "acme") == []  # acme's file was not loaded either


def test_database_and_tenant_together_select_both(project: TenantProject, tmp_path: Path) -> None:
    """``--database default --tenant acme`` visited acme only: --database was dropped without
    a word."""
    backup = tmp_path / "both"
    out = project.manage(
        "dumpdata_all", "-o", str(backup), "--database", "default", "--tenant", "acme"
    )
    assert sorted(p.name for p in backup.iterdir()) == ["default.json", "tenant_acme.json"]
    assert "default: dumped" in out
    plan = project.manage("migrate_all", "--plan", "--database", "default", "--tenant", "acme")
    assert "default" in plan
    assert "tenant_acme" in plan
    assert "tenant_beta" not in plan
    with closing(sqlite3.connect(project.root / "tenants" / "acme.sqlite3")) as connection:
        connection.execute("DELETE FROM notes_note")
        connection.commit()
    (backup / "default.json").write_text("[]")
    out = project.manage("loaddata_all", str(backup), "--database", "default", "--tenant", "acme")
    assert "default: installed 0 object(s)" in out
    assert "tenant_acme: installed 2 object(s)" in out
    assert titles(project, "acme") == ["acme-ann", "acme-nobody"]


def delete_ann_behind_djangos_back(project: TenantProject) -> None:
    """ann disappears from default with raw SQL: her notes in each tenant become orphans."""
    with closing(sqlite3.connect(project.root / "default.sqlite3")) as connection:
        connection.execute("DELETE FROM auth_user WHERE username = 'ann'")
        connection.commit()


def test_repair_relations_finds_and_repairs_orphans_in_each_tenant(project: TenantProject) -> None:
    delete_ann_behind_djangos_back(project)
    survey = project.manage("repair_relations", "--dry-run", check=False)
    assert (
        "notes.Note.author (tenant_acme) -> auth.User (default): 1 orphan(s), on_delete: delete"
        in survey
    )
    assert (
        "notes.Note.author (tenant_beta) -> auth.User (default): 1 orphan(s), on_delete: delete"
        in survey
    )
    assert titles(project, "acme") == ["acme-ann", "acme-nobody"]  # a dry run changes nothing

    out = project.manage("repair_relations", "--noinput", "--grace", "0", "--tenant", "acme")
    assert (
        "notes.Note.author (tenant_acme) -> auth.User (default): 1 orphan(s) repaired "
        "(delete): 1 notes.Note" in out
    )
    assert "tenant_beta" not in out
    assert titles(project, "acme") == ["acme-nobody"]
    assert titles(project, "beta") == ["beta-ann", "beta-nobody"]

    out = project.manage("repair_relations", "--noinput", "--grace", "0")
    assert "(tenant_beta) -> auth.User (default): 1 orphan(s) repaired" in out
    assert titles(project, "beta") == ["beta-nobody"]
    clean = project.manage("repair_relations", "--dry-run")
    assert "No unfinished deletes, no orphans to repair." in clean


def test_repair_relations_refuses_a_database_it_does_not_know(project: TenantProject) -> None:
    """``--dry-run --database tenant_acme`` (or a typo) scanned nothing and reported "no
    orphans", exit 0, while acme had one."""
    delete_ann_behind_djangos_back(project)
    for alias, hint in (
        ("tenant_acme", "tenant_acme is tenant acme's database: use --tenant acme"),
        ("defualt", "databases: default"),
    ):
        out = project.manage("repair_relations", "--dry-run", "--database", alias, check=False)
        assert f"CommandError: --database {alias}: no such database in DATABASES" in out
        assert hint in out
        assert "no orphans to repair" not in out


def test_repair_relations_finishes_a_delete_that_reached_a_tenant(project: TenantProject) -> None:
    # A crash after default committed the delete of ann: the intent (recorded in default, as
    # every cross-database delete does) names her acme note, still there.
    acme_pk = project.sqlite_rows(
        "tenants/acme.sqlite3", "SELECT id FROM notes_note WHERE title = 'acme-ann'"
    )[0][0]
    with closing(sqlite3.connect(project.root / "default.sqlite3")) as connection:
        (ann,) = connection.execute("SELECT id FROM auth_user WHERE username = 'ann'").fetchone()
        connection.execute("DELETE FROM auth_user WHERE id = ?", [ann])
        connection.executemany(
            "INSERT INTO django_cfg_deleteintent (token, database, model, pks, created) "
            "VALUES ('t0k3n', ?, ?, ?, '2026-01-01 00:00:00')",
            [
                ("default", "auth.User", json.dumps([ann])),
                ("tenant_acme", "notes.Note", json.dumps([acme_pk])),
            ],
        )
        connection.commit()
    out = project.manage("repair_relations", "--noinput", "--grace", "0", "--tenant", "acme")
    assert "Finished delete t0k3n" in out
    assert titles(project, "acme") == ["acme-nobody"]
    assert project.sqlite_rows(
        "default.sqlite3", "SELECT COUNT(*) FROM django_cfg_deleteintent"
    ) == [(0,)]
    assert titles(project, "beta") == ["beta-ann", "beta-nobody"]  # --tenant acme: not beta


def test_a_tenant_that_cannot_be_opened_is_named(project: TenantProject, tmp_path: Path) -> None:
    (project.root / "blocker").write_text("a file where a folder should be")
    with closing(sqlite3.connect(project.root / "default.sqlite3")) as connection:
        connection.execute(
            "INSERT INTO django_cfg_tenant (name, url, replica_urls, created) VALUES "
            f"('broken', 'sqlite:///{project.root}/blocker/x.sqlite3', '[]', '2026-01-01')"
        )
        connection.commit()
    delete_ann_behind_djangos_back(project)
    # repair_relations repairs the tenants it can open, names the other, exits 1
    out = project.manage("repair_relations", "--noinput", "--grace", "0", check=False)
    assert "tenant_broken: cannot open its database" in out
    assert "(tenant_acme) -> auth.User (default): 1 orphan(s) repaired" in out
    assert "(tenant_beta) -> auth.User (default): 1 orphan(s) repaired" in out
    assert "Left unrepaired" in out
    assert titles(project, "acme") == ["acme-nobody"]
    # dumpdata_all writes nothing: a backup without a tenant is no backup
    backup = tmp_path / "backup"
    out = project.manage("dumpdata_all", "-o", str(backup), check=False)
    assert "tenant_broken: cannot open its database" in out
    assert not backup.exists() or not list(backup.iterdir())


# Scenarios, run in a process of the tenant project (TenantProject.scenario)


def authored(names: list[str]) -> dict[str, Any]:
    """User ann in default, one note of hers per tenant (titled after it) and one by nobody."""
    from django.contrib.auth.models import User

    from tests.tenants.project.notes.models import Note

    ann = User.objects.create(username="ann")
    for name in names:
        with use_tenant(name):
            Note.objects.create(title=f"{name}-ann", author=ann)
            Note.objects.create(title=f"{name}-nobody")
    return {"ann": ann.pk}
