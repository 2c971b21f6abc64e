"""The example's tenant mode (scripts/example.sh --tenants, or SAAS_TENANTS=1): apps.projects
in a database per tenant, users shared on default; the main job is untouched."""

from __future__ import annotations

import os
import re
import secrets
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.example_project import EXAMPLE, ExampleProject
from tests.support.services import MARIADB_URL, POSTGRES_URL, sibling_url
from tests.support.spec_page import run_process
from tests.tenants.project_support import server_databases, server_rows

ROOT = EXAMPLE.parent.parent
TENANTS = ("acme", "globex")
DEMO_LINES = [
    "tenants: acme, globex; tenant apps: projects",
    "tenant 'acme': project.owner (read from default): 'john'",
    "tenant 'globex': project.owner (read from default): 'john'",
    "tenant 'globex' sees acme's projects: 0 row(s)",
    "no tenant selected: NoTenantError: projects.Project lives in a tenant database (app "
    "'projects' is in TenantsConfig.apps) and no tenant is selected.",
    "GET http://nosuch.localhost/projects/ -> 404",
]


def run_example(project: ExampleProject, *args: str, env: dict[str, str] | None = None) -> str:
    run = run_process(
        [str(ROOT / "scripts" / "example.sh"), *args],
        cwd=project.root.parent,
        env={
            "VENV": sys.prefix,
            "EXAMPLE_DIR": str(project.root),
            "PATH": os.environ["PATH"],
            **project.env,
            **(env or {}),
        },
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def sqlite_rows(project: ExampleProject, relative: str, sql: str) -> list[tuple[Any, ...]]:
    import sqlite3
    from contextlib import closing

    path = project.root / relative
    assert path.exists(), path
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute(sql).fetchall()


def tables(project: ExampleProject, relative: str) -> set[str]:
    rows = sqlite_rows(project, relative, "SELECT name FROM sqlite_master WHERE type = 'table'")
    return {name for (name,) in rows}


def from_the_demo(output: str, first_line: str) -> list[str]:
    """The demo's and db_status's lines (create_tenant and migrate_all report work done on a
    first run only), measured durations replaced: they differ from run to run."""
    lines = output.splitlines()
    start = next(number for number, line in enumerate(lines) if line.startswith(first_line))
    return [re.sub(r"\d+(\.\d+)? ?m?s\b", "<time>", line) for line in lines[start:]]


def test_readme_documents_the_tenant_mode() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "scripts/example.sh --tenants" in readme
    assert "SAAS_TENANTS=1" in readme
    assert "DATABASE__TENANT_URL" in readme


def test_tenant_mode_on_sqlite_files(tmp_path: Path) -> None:
    project = ExampleProject.copy(tmp_path)
    out = run_example(project, "--tenants")
    for line in DEMO_LINES:
        assert line in out
    assert "user 'john' (shared): rows in ['db/default.sqlite3']" in out
    for name in TENANTS:
        assert re.search(  # the first migrated, the others copies of it (tenants.clone)
            f"Tenant '{name}': database sqlite:///db/tenants/{name}.sqlite3 \\(created\\), "
            "(migrated|copied from the migrated template), recorded.",
            out,
        )
        assert f"tenant_{name}: up to date" in out  # the second migrate_all
        assert (
            f"tenant '{name}': project 1 '{name} launch' on tenant_{name}: "
            f"rows in ['db/tenants/{name}.sqlite3']" in out
        )
        assert (
            f"GET http://{name}.localhost/projects/ -> 200 "
            f"{{'tenant': '{name}', 'projects': ['{name} launch']}}" in out
        )
    assert out.count("role: tenant") == 2  # db_status lists both tenants
    assert out.count("migrations: up to date") == 5

    # the files themselves: each tenant's project in its own file, the user in default only;
    # beside them the migrated template new tenants are copied from (no tenant's name)
    assert sorted(p.name for p in (project.root / "db" / "tenants").glob("*.sqlite3")) == [
        "_template.sqlite3",
        "acme.sqlite3",
        "globex.sqlite3",
    ]
    assert (
        sqlite_rows(project, "db/tenants/_template.sqlite3", "SELECT * FROM projects_project") == []
    )
    for name in TENANTS:
        relative = f"db/tenants/{name}.sqlite3"
        assert sqlite_rows(project, relative, "SELECT name FROM projects_project") == [
            (f"{name} launch",)
        ]
        assert "accounts_user" not in tables(project, relative)
    for shared in ("default", "blog", "shop"):
        assert "projects_project" not in tables(project, f"db/{shared}.sqlite3")
    assert sqlite_rows(project, "db/default.sqlite3", "SELECT username FROM accounts_user") == [
        ("john",)
    ]
    recorded = sqlite_rows(project, "db/default.sqlite3", "SELECT name FROM django_cfg_tenant")
    assert sorted(recorded) == [("acme",), ("globex",)]

    # again, by the environment variable: the tenants and their projects are kept
    again = run_example(project, env={"SAAS_TENANTS": "1"})
    assert "Tenant 'acme': already exists, kept." in again
    assert from_the_demo(again, "tenants: ") == from_the_demo(out, "tenants: ")
    assert "tenant 'acme': project 1 'acme launch' on tenant_acme" in again
    assert sqlite_rows(
        project, "db/tenants/globex.sqlite3", "SELECT COUNT(*) FROM projects_project"
    ) == [(1,)]


def test_the_main_job_knows_no_tenants(tmp_path: Path) -> None:
    project = ExampleProject.copy(tmp_path)
    out = run_example(project)
    assert "tenant" not in out
    assert not (project.root / "db" / "tenants").exists()
    assert "projects_project" not in tables(project, "db/default.sqlite3")
    refused = project.manage("dumpdata_all", "-o", "backup", "--tenant", "acme", check=False)
    assert "--tenant: this project has no tenants (DjangoConfig.tenants)." in refused


@pytest.mark.parametrize(
    "server_url",
    [
        pytest.param(POSTGRES_URL, marks=pytest.mark.postgres, id="postgresql"),
        pytest.param(MARIADB_URL, marks=pytest.mark.mariadb, id="mariadb"),
    ],
)
def test_tenant_mode_with_tenant_databases_on_a_server(tmp_path: Path, server_url: str) -> None:
    template = sibling_url(server_url, f"_ex{secrets.token_hex(3)}_{{tenant}}")
    urls = {name: template.replace("{tenant}", name) for name in TENANTS}
    names = {name: url.partition("?")[0].rpartition("/")[2] for name, url in urls.items()}
    settings = {"SAAS_TENANTS": "1", "DATABASE__TENANT_URL": template}
    project = ExampleProject(ExampleProject.copy(tmp_path).root, settings=settings)
    try:
        out = run_example(project, "--tenants")
        for line in DEMO_LINES:
            assert line in out
        assert set(names.values()) <= server_databases(server_url)
        for name in TENANTS:
            assert f"tenant '{name}': project 1 '{name} launch' on tenant_{name}: " in out
            assert f"rows in ['{names[name]}']" in out
            rows = server_rows(urls[name], "SELECT name FROM projects_project")
            assert rows == [(f"{name} launch",)]
        assert not (project.root / "db" / "tenants").exists()  # nothing fell back to SQLite
    finally:
        for name in TENANTS:
            project.manage("drop_tenant", name, "--drop-database", "--noinput", check=False)
    assert not set(names.values()) & server_databases(server_url)


def test_check_refuses_a_shared_model_naming_a_tenant_model(tmp_path: Path) -> None:
    project = ExampleProject(ExampleProject.copy(tmp_path).root, settings={"SAAS_TENANTS": "1"})
    models = project.root / "apps" / "blog" / "models.py"
    models.write_text(
        models.read_text()
        + "\n\nclass Mention(models.Model):\n"
        + '    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE)\n'
    )
    output = project.manage("check", check=False)
    assert "SystemCheckError" in output  # exit status 1
    assert (
        "blog.Mention.project: (django_cfg.E070) The ForeignKey blog.Mention.project goes from "
        "a shared model (app 'blog', on 'blog_db') to projects.Project, a tenant model" in output
    )
    assert "HINT: Reverse the relation (a ForeignKey on projects.Project to blog.Mention)" in output
    assert "1 issue" in output  # E008 does not report it a second time
