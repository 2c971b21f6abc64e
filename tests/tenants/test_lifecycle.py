"""A tenant's creation and drop (django_cfg.tenants.lifecycle): routable only once migrated,
resumable after kill -9 at any step, one winner among concurrent creations, and a recycled
name never inherits the database of the tenant that had it. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.services import POSTGRES_URL, sibling_url
from tests.support.spec_page import run_process, user_environment
from tests.tenants.project.lifecycle_steps import STEPS
from tests.tenants.project.scenarios import write
from tests.tenants.project_support import (
    ROOT,
    SQLITE_TEMPLATE,
    TenantProject,
    drop_server_database,
    server_databases,
    server_rows,
)

CONCURRENT = 6  # create_tenant processes racing for one name


@dataclass
class Setup:
    project: TenantProject
    family: str
    suffix: str

    def tenant(self, base: str) -> str:
        return f"{base}{self.suffix}"

    def tables(self, name: str) -> set[str]:
        """The tables of tenant ``name``'s database at the template's place (none: missing)."""
        if self.family == "sqlite":
            path = self.project.root / "tenants" / f"{name}.sqlite3"
            return self.project.sqlite_tables(f"tenants/{name}.sqlite3") if path.exists() else set()
        url = self.project.tenant_url.replace("{tenant}", name)
        if url.rpartition("/")[2] not in server_databases(url):
            return set()
        rows = server_rows(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {table for (table,) in rows}

    def rows(self) -> dict[str, str]:
        """The tenants table: name -> state."""
        sql = "SELECT name, state FROM django_cfg_tenant"
        if self.family == "sqlite":
            return dict(self.project.sqlite_rows("default.sqlite3", sql))
        return dict(server_rows(self.project.default_url, sql))

    def steps(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tests.tenants.project.lifecycle_steps", *args],
            cwd=ROOT,
            env=user_environment(self.project.env),
            capture_output=True,
            text=True,
            timeout=300,
        )

    def probe(self, name: str) -> dict[str, object]:
        run = self.steps("probe", name)
        assert run.returncode == 0, run.stdout + run.stderr
        result: dict[str, object] = json.loads(run.stdout.strip().splitlines()[-1])
        return result


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    suffix = secrets.token_hex(3)
    if request.param == "sqlite":
        project = TenantProject(tmp_path, SQLITE_TEMPLATE)
        created: list[str] = []
    else:
        default = sibling_url(POSTGRES_URL, f"_lc{suffix}")
        _create_server_database(default)
        created = [default]
        project = TenantProject(
            tmp_path, sibling_url(POSTGRES_URL, "_lc_{tenant}"), default_url=default
        )
    project.manage("migrate_all", "--verbosity", "0")
    try:
        yield Setup(project, request.param, suffix)
    finally:
        if request.param == "postgresql":
            template = project.tenant_url
            prefix = template.partition("?")[0].rpartition("/")[2].replace("{tenant}", "")
            for database in server_databases(template.replace("{tenant}", "x")):
                if database.startswith(prefix) and database.endswith(suffix):
                    drop_server_database(template.replace("{tenant}", database[len(prefix) :]))
            for url in created:
                drop_server_database(url)


def _create_server_database(url: str) -> None:
    from tests.support.replica_tools import _connect

    name = url.partition("?")[0].rpartition("/")[2]
    with _connect(url) as connection:  # to the server's "postgres" database
        connection.execute(f'CREATE DATABASE "{name}"')


@pytest.mark.parametrize("step", STEPS)
def test_create_tenant_killed_at_any_step_is_finished_by_running_it_again(
    setup: Setup, step: str
) -> None:
    name = setup.tenant("k" + step.replace("_", "")[:8])
    killed = setup.steps("kill", step, name)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    assert setup.rows()[name] in {"creating", "migrating"}  # recorded, not ready
    assert setup.probe(name)["status"] == 404  # not routable meanwhile
    listed = setup.project.manage("migrate_all", "--check")  # every tenant: it is none yet
    assert f"tenant_{name}" not in listed

    again = setup.project.manage("create_tenant", name)
    assert f"Tenant {name!r}: database" in again
    assert "migrated, recorded." in again
    assert setup.rows()[name] == ""
    assert {"notes_note", "django_cfg_deleteintent"} <= setup.tables(name)
    setup.project.scenario(write, name)
    assert setup.probe(name) == {"status": 200, "titles": [f"{name}-row"]}
    assert f"tenant_{name}: up to date" in setup.project.manage("migrate_all", "--check")


def test_a_tenant_answers_404_until_its_creation_is_done(setup: Setup) -> None:
    name = setup.tenant("live")
    run = setup.steps("live", name)
    assert run.returncode == 0, run.stdout + run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert "error" not in out, out
    assert out["how"] == "created"
    assert len(out["recorded"]) >= 2  # paused with one migration of several recorded
    assert out["at"] == {point: [404] * 5 for point in ("created", "half_migrated", "migrated")}
    assert set(out["along"]) <= {404, 200}  # never a 500 while it was being created
    assert out["along_after_first_200"] in ([], [200])  # once routable, it stays so
    assert out["after"] == {"status": 200, "titles": []}


def test_concurrent_creations_of_one_name_end_with_one_tenant(setup: Setup) -> None:
    name = setup.tenant("race")
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.tenants.project.lifecycle_steps", "race", name],
            cwd=ROOT,
            env=user_environment(setup.project.env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(CONCURRENT)
    ]
    for process in processes:  # each one set up, waiting for its line
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
    for process in processes:  # then all at once
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    outputs = [process.communicate(timeout=300) for process in processes]
    results = [(p.returncode, out, err) for p, (out, err) in zip(processes, outputs, strict=True)]
    winners = [out for code, out, _ in results if code == 0]
    losers = [(code, err) for code, _, err in results if code != 0]
    assert len(winners) == 1, results
    assert "(created), migrated, recorded." in winners[0]
    assert len(losers) == CONCURRENT - 1
    for code, err in losers:
        assert code == 1, err
        assert f"Tenant {name!r} already exists" in err
        assert "Traceback" not in err
    assert setup.rows() == {name: ""}
    setup.project.scenario(write, name)
    assert setup.probe(name) == {"status": 200, "titles": [f"{name}-row"]}


def test_a_recycled_name_does_not_inherit_the_dropped_tenants_database(setup: Setup) -> None:
    project, name = setup.project, setup.tenant("reuse")
    project.manage("create_tenant", name)
    project.scenario(write, name)
    kept = project.manage("drop_tenant", name, "--noinput")
    assert f"Tenant {name!r} removed; its database " in kept
    where = (
        project.tenant_url.replace("{tenant}", name).partition("?")[0].rpartition("/")[2]
        if setup.family == "postgresql"
        else f"{project.root}/tenants/{name}.sqlite3"
    )
    assert where in kept
    assert "is kept, with its data" in kept
    assert "notes_note" in setup.tables(name)

    code, refused = project.status("create_tenant", name)
    assert code == 1, refused
    assert f"Tenant {name!r} was not created: its database " in refused
    assert where in refused
    assert f"(tenant_{name})" in refused
    assert "notes_note" in refused
    assert "--adopt" in refused
    assert "Traceback" not in refused
    assert name not in setup.rows()  # nothing recorded
    assert setup.probe(name)["status"] == 404

    adopted = project.manage("create_tenant", name, "--adopt")
    assert "(adopted), migrated, recorded." in adopted
    assert setup.probe(name) == {"status": 200, "titles": [f"{name}-row"]}

    dropped = project.manage("drop_tenant", name, "--drop-database", "--noinput")
    assert f"Tenant {name!r} removed; database " in dropped
    assert "dropped." in dropped
    assert setup.tables(name) == set()
    fresh = project.manage("create_tenant", name)
    assert "(created), migrated, recorded." in fresh
    assert setup.probe(name) == {"status": 200, "titles": []}


def test_the_python_api_for_sign_up_flows(tmp_path: Path) -> None:
    project = TenantProject(tmp_path, SQLITE_TEMPLATE)
    project.manage("migrate_all", "--verbosity", "0")
    run = Setup(project, "sqlite", "").steps("api", "signup")
    assert run.returncode == 0, run.stdout + run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["in_transaction"].startswith("TenantLifecycleError: create_tenant('signup') ")
    assert "inside a transaction on 'default'" in out["in_transaction"]
    # 4 threads of one process at once: one tenant, the 3 others told it exists
    assert [o for o in out["threads"] if isinstance(o, dict)] == [{"how": "created"}]
    losers = [o for o in out["threads"] if not isinstance(o, dict)]
    assert len(losers) == 3
    assert all(o.startswith("TenantExistsError: Tenant 'signup' already exists") for o in losers)
    assert out["again"] == "TenantExistsError: Tenant 'signup' already exists."
    database = f"sqlite:///tenants/signup.sqlite3 (file {tmp_path}/tenants/signup.sqlite3)"
    assert out["drop"] == {"name": "signup", "database": database, "dropped": False}
    assert out["recreate"].startswith(
        f"TenantLifecycleError: Tenant 'signup' was not created: its database {database} "
        "(tenant_signup) already exists and holds "
    )
    assert out["adopt"] == {"how": "adopted"}
    assert out["probe"] == {"status": 200, "titles": []}


def test_drop_tenant_killed_before_the_drop_is_finished_by_running_it_again(
    setup: Setup,
) -> None:
    project, name = setup.project, setup.tenant("half")
    project.manage("create_tenant", name)
    project.scenario(write, name)
    killed = setup.steps("kill-drop", name)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    assert setup.rows() == {name: "creating"}  # not routable any more
    assert setup.probe(name)["status"] == 404
    assert "notes_note" in setup.tables(name)  # not dropped yet

    code, refused = project.status("create_tenant", name)  # the old data is not taken over
    assert code == 1, refused
    assert "already exists and holds" in refused
    assert f"drop_tenant {name} removes it" in refused
    assert setup.rows() == {name: "creating"}

    dropped = project.manage("drop_tenant", name, "--drop-database", "--noinput")
    assert "dropped." in dropped
    assert setup.rows() == {}
    assert setup.tables(name) == set()
    assert "(created), migrated, recorded." in project.manage("create_tenant", name)
    assert setup.probe(name) == {"status": 200, "titles": []}


def test_commands_are_quiet_at_verbosity_0_and_never_wait_for_an_answer(tmp_path: Path) -> None:
    project = TenantProject(tmp_path, SQLITE_TEMPLATE)
    project.manage("migrate_all", "--verbosity", "0")
    assert project.manage("create_tenant", "quiet", "-v", "0") == ""
    run = run_process(  # stdin is not a terminal, and empty
        [sys.executable, "-m", "tests.tenants.project.run", "manage", "drop_tenant", "quiet"],
        cwd=ROOT,
        env=project.env,
        stdin="",
    )
    code, out = run.returncode, run.stdout + run.stderr
    assert code == 1
    assert "Pass --noinput" in out
    assert "Traceback" not in out
    assert project.sqlite_rows("default.sqlite3", "SELECT name FROM django_cfg_tenant") == [
        ("quiet",)
    ]
    assert project.manage("drop_tenant", "quiet", "--noinput", "-v", "0") == ""
    assert project.sqlite_rows("default.sqlite3", "SELECT name FROM django_cfg_tenant") == []
