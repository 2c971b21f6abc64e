"""create_tenant clones a migrated template (django_cfg.tenants.clone) instead of migrating:
the clone has the same schema and the same django_migrations rows as a database Django's own
``migrate`` made, on SQLite files and PostgreSQL databases; a template behind the migration
files (a new migration) is never copied, it is made again; migrate_all migrates the template
with the tenants; creations running at once in several processes all end migrated.

The project is a copy of benchmarks/tenant_project (three tenant apps, 12 migrations) with the
tenants listed in ``TenantsConfig.names``; the reference tenant ``ref`` is migrated by Django's
``migrate --database tenant_ref`` (BENCH_MODE=static lists the tenants as fixed aliases).
"""

from __future__ import annotations

import secrets
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from django_cfg.tenants.clone import STAMP_TABLE
from tests.support.services import POSTGRES_URL, sibling_url
from tests.support.spec_page import run_python
from tests.support.subprocess_project import server_rows
from tests.tenants.project_support import (
    ROOT,
    create_server_database,
    drop_server_database,
    server_databases,
)
from tests.tenants.test_shared_plan import pg_schema, sqlite_schema

TENANTS = ["ref", "a", "b", "c", "d", "e", "f", "g", "h"]
NEW_MIGRATION = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("crm", "{after}")]
    operations = [
        migrations.AddField("company", "{field}", models.IntegerField(default=0)),
    ]
"""


class Project:
    def __init__(self, root: Path, template: str) -> None:
        self.root = root / "project"
        shutil.copytree(
            ROOT / "benchmarks" / "tenant_project",
            self.root,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        self.template = template
        self.env = {
            "DJANGO_SETTINGS_MODULE": "settings",
            "BENCH_DIR": str(root),
            "BENCH_DEFAULT_URL": "sqlite:///default.sqlite3",
            "BENCH_TENANT_URL": template,
            "BENCH_TENANTS": ",".join(TENANTS),
        }
        (root / "tenants").mkdir()
        self.folder = root
        self.schema: Callable[[str], Any] = lambda name: None
        self.manage("migrate", "--noinput", "-v", "0", mode="static")
        self.manage("migrate", "--noinput", "-v", "0", "--database", "tenant_ref", mode="static")

    def manage(self, *args: str, mode: str = "tenants") -> str:
        return run_python("manage.py", *args, cwd=self.root, env={**self.env, "BENCH_MODE": mode})

    def fresh(self, name: str) -> Any:
        """Tenant ``name``'s database migrated by Django's ``migrate --database`` (its schema)."""
        self.manage(
            "migrate", "--noinput", "-v", "0", "--database", f"tenant_{name}", mode="static"
        )
        return self.schema(name)

    def create(self, name: str) -> str:
        return self.manage("create_tenant", name)

    def add_migration(self, number: int, after: str) -> None:
        name = f"{number:04d}_field{number}"
        text = NEW_MIGRATION.replace("{after}", after).replace("{field}", f"field{number}")
        (self.root / "crm" / "migrations" / f"{name}.py").write_text(text)

    def start(self, name: str) -> subprocess.Popen[str]:
        from tests.support.spec_page import user_environment

        env = {**user_environment(None), **self.env, "BENCH_MODE": "tenants"}
        return subprocess.Popen(
            [sys.executable, "manage.py", "create_tenant", name],
            cwd=self.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


def sqlite_of(project: Project) -> Callable[[str], Any]:
    def schema(name: str) -> Any:
        got = sqlite_schema(project.folder / "tenants" / f"{name}.sqlite3")
        if name == "_template":  # its stamp, which every copy drops
            got["objects"] = [o for o in got["objects"] if o[1] != STAMP_TABLE]
        return got

    return schema


def stamped(project: Project, name: str) -> bool:
    """Whether database ``name`` holds the template's stamp of its migration files."""
    if project.template.startswith("sqlite"):
        with closing(sqlite3.connect(project.folder / "tenants" / f"{name}.sqlite3")) as db:
            return bool(
                db.execute(f"SELECT 1 FROM sqlite_master WHERE name = '{STAMP_TABLE}'").fetchall()
            )
    database = project.template.partition("?")[0].rpartition("/")[2].replace("{tenant}", name)
    base = project.template.partition("?")[0].rpartition("/")[0]
    comment = "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = "
    rows = server_rows(f"{base}/postgres", f"{comment}'{database}'")
    return bool(rows and rows[0][0])


def pg_of(project: Project) -> Callable[[str], Any]:
    return lambda name: pg_schema(project.template.replace("{tenant}", name))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Project, Any]]:
    if request.param == "sqlite":
        project = Project(tmp_path, "sqlite:///tenants/{tenant}.sqlite3")
        project.schema = sqlite_of(project)
        yield project, project.schema
        return
    template = sibling_url(POSTGRES_URL, f"_tc{secrets.token_hex(3)}_{{tenant}}")
    prefix = template.partition("?")[0].rpartition("/")[2].replace("{tenant}", "")
    try:
        for name in ("ref", "g", "h"):  # migrated by Django's migrate: made beforehand
            create_server_database(template.replace("{tenant}", name))
        project = Project(tmp_path, template)
        project.schema = pg_of(project)
        yield project, project.schema
    finally:
        for database in server_databases(template.replace("{tenant}", "x")):
            if database.startswith(prefix):
                drop_server_database(template.replace("{tenant}", database[len(prefix) :]))


def test_a_clone_equals_a_database_djangos_migrate_made(engine: tuple[Project, Any]) -> None:
    project, schema = engine
    first = project.create("a")
    assert "(created), migrated, recorded." in first  # no template yet: migrated, then kept
    second = project.create("b")
    assert "(created), copied from the migrated template, recorded." in second
    reference = schema("ref")
    assert ("crm", "0004_lowercase_domains") in reference["migrations"]
    for name in ("a", "b"):
        assert schema(name) == reference, name
    assert "tenant_b: up to date" in project.manage("migrate_all", "--check", "--tenant", "b")
    assert schema("_template") == reference
    assert stamped(project, "_template")  # made from the files on disk now; copies are not
    assert not stamped(project, "a")
    assert not stamped(project, "b")


def test_a_template_behind_the_migrations_is_never_copied(engine: tuple[Project, Any]) -> None:
    project, schema = engine
    project.create("a")  # the template
    project.add_migration(5, "0004_lowercase_domains")
    fresh = project.fresh("g")  # Django's migrate of a new database, the new migration included
    behind = project.create("b")
    assert "(created), migrated, recorded." in behind  # not copied: migrated
    assert ("crm", "0005_field5") in fresh["migrations"]
    assert schema("b") == fresh
    assert schema("_template") == fresh  # made again from b
    assert "copied from the migrated template" in project.create("c")
    assert schema("c") == fresh

    # migrate_all migrates the tenants and the template: the next creation copies it.
    project.add_migration(6, "0005_field5")
    tenants = [arg for name in ("a", "b", "c") for arg in ("--tenant", name)]
    project.manage("migrate_all", "--noinput", "-v", "0", *tenants)
    fresh = project.fresh("h")
    assert ("crm", "0006_field6") in fresh["migrations"]
    template = schema("_template")
    assert {k: v for k, v in template.items() if k != "migrations"} == {
        k: v for k, v in fresh.items() if k != "migrations"
    }
    assert set(template["migrations"]) == set(fresh["migrations"])  # 0006 recorded last
    assert "copied from the migrated template" in project.create("d")
    assert schema("d") == template
    for name in ("a", "b", "c"):
        assert set(schema(name)["migrations"]) == set(fresh["migrations"]), name


def test_creations_at_once_from_one_template_all_end_migrated(
    engine: tuple[Project, Any],
) -> None:
    project, schema = engine
    names = ["a", "b", "c", "d"]  # no template yet: each may migrate and make it
    for run in [project.start(name) for name in names]:
        out, _ = run.communicate(timeout=300)
        assert run.returncode == 0, out
    names = ["e", "f", "g", "h"]  # from the template, at once
    outs = []
    for run in [project.start(name) for name in names]:
        out, _ = run.communicate(timeout=300)
        assert run.returncode == 0, out
        outs.append(out)
    assert any("copied from the migrated template" in out for out in outs), outs
    reference = schema("ref")
    for name in ["a", "b", "c", "d", *names]:
        assert schema(name) == reference, name


def test_migrate_all_reads_each_sqlite_tenants_rows_and_migrates_one_behind(tmp_path: Path) -> None:
    import sqlite3
    from contextlib import closing

    project = Project(tmp_path, "sqlite:///tenants/{tenant_hash2}/{tenant}.sqlite3")
    project.create("a")
    project.create("b")
    files = {name: next((tmp_path / "tenants").glob(f"*/{name}.sqlite3")) for name in "ab"}
    with closing(sqlite3.connect(files["b"])) as db, db:
        db.execute(
            "DELETE FROM django_migrations WHERE app = 'tickets' AND name = '0004_comment_kind'"
        )
        db.execute("ALTER TABLE tickets_comment DROP COLUMN kind")
    before = sqlite_schema(files["a"])
    out = project.manage("migrate_all", "--tenant", "a", "--tenant", "b")
    assert "tenant_a: up to date" in out
    assert "tenant_b: 1 applied: tickets.0004_comment_kind" in out
    assert sqlite_schema(files["a"]) == before
    assert sqlite_schema(files["b"])["objects"] == before["objects"]


def test_a_staged_template_database_is_never_a_tenants() -> None:
    """A refresh stages the new template beside the old and drops a copy a killed creation
    left (DROP DATABASE IF EXISTS): its name must never be a tenant's database, whatever the
    length of the URL template's prefix (it was cut at 40 characters: a prefix of 41 ending
    in '_' made it the database of a tenant named new_<hash>), and never cut by PostgreSQL at
    63 bytes (then there is no staged copy, and no template)."""
    from django_cfg.settings.tenant_names import check_tenant_name
    from django_cfg.tenants.clone import _staged_server

    staged_some = 0
    for length in range(1, 60):
        prefix = "p" * (length - 1) + "_"
        staged = _staged_server(f"{prefix}_template", f"{prefix}acme")
        if staged is None:
            assert len(f"{prefix}_template_new_12345678") > 63
            continue
        staged_some += 1
        assert len(staged.encode()) <= 63
        assert staged.startswith(prefix)
        with pytest.raises(ValueError, match="invalid tenant name"):
            check_tenant_name(staged[len(prefix) :])
    assert staged_some > 30
