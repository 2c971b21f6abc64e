"""Testing a tenant project (django_cfg.tenants.testing): a small tenant project's own test suite
run with ``manage.py test`` and with pytest-django. Its test writes a row in each tenant and
reads it back from the tenant's test database; afterwards those databases are gone, and the
production template's databases were never touched."""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.services import POSTGRES_URL, sibling_url
from tests.support.spec_page import run_process
from tests.tenants.project.scenarios import write
from tests.tenants.project_support import ROOT, TenantProject, server_databases, server_rows

TEMPLATE = "sqlite:///tenants/{tenant}.sqlite3"
SELFTEST = "tests.tenants.project.selftests.tenant_databases"
RUNNER = "django_cfg.tenants.testing.TenantDiscoverRunner"


def manage_test(project: TenantProject, *args: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    """``manage.py test`` of the project's own test; the report its test wrote."""
    return _run(project, "-m", "tests.tenants.project.run", "manage", "test", SELFTEST, *args)


def pytest_run(project: TenantProject, *args: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    """pytest-django on the project's own test, with the conftest.py recipe beside it."""
    path = "tests/tenants/project/selftests/tenant_databases.py"
    return _run(
        project, "-m", "pytest", path, "--ds", "tests.tenants.project.settings",
        "--confcutdir", "tests/tenants/project/selftests", "-p", "no:cacheprovider", *args,
    )  # fmt: skip


def _run(project: TenantProject, *args: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    report = project.root / "report.json"
    report.unlink(missing_ok=True)
    env = {**project.env, "TENANT_TEST_REPORT": str(report)}
    run = run_process([sys.executable, *args], cwd=ROOT, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    return run, json.loads(report.read_text())


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def production(fixed: TenantProject) -> TenantProject:
    """Tenants acme and beta (TenantsConfig.names), their production files migrated, a row in
    each: the tests of the project must never touch them."""
    fixed.scenario(write, "acme", "beta")
    return fixed


def production_files(project: TenantProject) -> dict[str, str]:
    return {p.name: digest(p) for p in sorted((project.root / "tenants").glob("*.sqlite3"))}


def test_manage_py_test_creates_and_destroys_the_tenant_test_databases(
    production: TenantProject,
) -> None:
    before = production_files(production)
    assert set(before) == {"acme.sqlite3", "beta.sqlite3"}
    run, report = manage_test(production, "--testrunner", RUNNER, "--noinput")
    tenants = production.root / "tenants"
    for name in ("acme", "beta"):
        assert report[name] == {
            "database": str(tenants / f"test-{name}.sqlite3"),
            "count": 1,
            "read_back": [f"{name}-test"],  # read from the file by sqlite3 during the test
        }
        assert f"Creating test database for alias 'tenant_{name}'" in run.stderr
        assert f"Destroying test database for alias 'tenant_{name}'" in run.stderr
    assert "Ran 1 test" in run.stderr
    # gone afterwards (the migration lock files too); the production files untouched
    assert sorted(p.name for p in tenants.iterdir()) == [
        "acme.sqlite3", "acme.sqlite3.migrate-lock", "beta.sqlite3", "beta.sqlite3.migrate-lock",
    ]  # fmt: skip
    assert production_files(production) == before
    assert production.sqlite_rows("tenants/acme.sqlite3", "SELECT title FROM notes_note") == [
        ("acme-row",)
    ]

    # --keepdb keeps them for the next run, which reuses them (the row of the run before is
    # flushed by the TransactionTestCase, so the test still sees one row)
    manage_test(production, "--testrunner", RUNNER, "--noinput", "--keepdb")
    assert (tenants / "test-acme.sqlite3").exists()
    run, report = manage_test(production, "--testrunner", RUNNER, "--noinput", "--keepdb")
    assert "Using existing test database for alias 'tenant_acme'" in run.stderr
    assert report["acme"]["read_back"] == ["acme-test"]
    manage_test(production, "--testrunner", RUNNER, "--noinput")
    assert not (tenants / "test-acme.sqlite3").exists()


def test_manage_py_test_with_the_tenants_table(tmp_path: Path) -> None:
    """Tenants in the tenants table: the runner's ``tenants`` are recorded in the test
    database's table, created and migrated."""
    project = TenantProject(tmp_path, TEMPLATE)
    project.manage("migrate_all", "--verbosity", "0")
    _, report = manage_test(
        project, "--testrunner", "tests.tenants.project.selftests.runner.TableTenantsRunner"
    )
    assert report["acme"]["read_back"] == ["acme-test"]
    assert report["beta"]["database"] == str(tmp_path / "tenants" / "test-beta.sqlite3")
    assert not list((tmp_path / "tenants").glob("*.sqlite3"))
    # the production tenants table was never written
    assert project.sqlite_rows("default.sqlite3", "SELECT name FROM django_cfg_tenant") == []


def test_pytest_django_creates_and_destroys_the_tenant_test_databases(
    production: TenantProject,
) -> None:
    before = production_files(production)
    run, report = pytest_run(production)
    assert "1 passed" in run.stdout
    tenants = production.root / "tenants"
    for name in ("acme", "beta"):
        assert report[name]["database"] == str(tenants / f"test-{name}.sqlite3")
        assert report[name]["read_back"] == [f"{name}-test"]
        assert not (tenants / f"test-{name}.sqlite3").exists()
    assert production_files(production) == before


def test_a_test_url_naming_the_production_databases_is_refused(tmp_path: Path) -> None:
    """``TenantsConfig.test_url`` equal to ``url``: the runner would drop each tenant's
    production database to create its test database. It refuses before touching any."""
    project = TenantProject(tmp_path, TEMPLATE, names=["acme", "beta"], test_url=TEMPLATE)
    project.manage("migrate_all", "--verbosity", "0")
    project.scenario(write, "acme", "beta")
    before = production_files(project)
    for command in (
        ["-m", "tests.tenants.project.run", "manage", "test", SELFTEST, "--testrunner", RUNNER],
        ["-m", "pytest", "tests/tenants/project/selftests/tenant_databases.py",
         "--ds", "tests.tenants.project.settings", "--confcutdir",
         "tests/tenants/project/selftests", "-p", "no:cacheprovider"],
    ):  # fmt: skip
        run = run_process([sys.executable, *command], cwd=ROOT, env=project.env)
        assert run.returncode != 0
        output = run.stdout + run.stderr
        assert (
            f"'{tmp_path / 'tenants/acme.sqlite3'}' is the production database of tenant 'acme': "
            "the tests would drop and create it as 'tenant_acme'; refused."
        ) in output
        assert "TenantsConfig.test_url" in output
        assert production_files(project) == before
        assert project.sqlite_rows("tenants/acme.sqlite3", "SELECT title FROM notes_note") == [
            ("acme-row",)
        ]


def test_a_tenant_named_like_another_tenants_test_database_keeps_its_database(
    tmp_path: Path,
) -> None:
    """Tenants acme and test_acme in TenantsConfig.names: acme's test database is
    ``tenants/test-acme.sqlite3`` (a '-' is in no tenant's name), never test_acme's file."""
    project = TenantProject(tmp_path, TEMPLATE, names=["acme", "test_acme"])
    project.manage("migrate_all", "--verbosity", "0")
    project.scenario(write, "acme", "test_acme")
    before = production_files(project)
    run = run_process(
        [sys.executable, "-m", "tests.tenants.project.run", "manage", "test",
         "tests.tenants.project.selftests.production_guard", "--testrunner", RUNNER],
        cwd=ROOT, env={**project.env, **guard_env(project, "tenants/test_acme.sqlite3")},
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"Creating test database for alias 'tenant_acme' ('{tmp_path}/tenants/test-acme" in (
        run.stderr
    )
    assert production_files(project) == before


def guard_env(project: TenantProject, production: str) -> dict[str, str]:
    """The environment of the production_guard selftest: its report, and the production
    database it tries to create and open a tenant at (a file of the project, or a URL)."""
    intruder = production if "://" in production else f"sqlite:///{project.root / production}"
    return {
        "TENANT_TEST_REPORT": str(project.root / "report.json"),
        "TENANT_TEST_INTRUDER_URL": intruder,
    }


GUARD_RUNS = {
    "manage.py test": [
        "-m", "tests.tenants.project.run", "manage", "test",
        "tests.tenants.project.selftests.production_guard",
        "--testrunner", "tests.tenants.project.selftests.runner.TableTenantsRunner", "--noinput",
    ],
    "pytest": [
        "-m", "pytest", "tests/tenants/project/selftests/production_guard.py",
        "--ds", "tests.tenants.project.settings",
        "--confcutdir", "tests/tenants/project/selftests", "-p", "no:cacheprovider",
    ],
}  # fmt: skip


def run_guard(project: TenantProject, how: str, production: str) -> dict[str, Any]:
    """The production_guard selftest run ``how`` (GUARD_RUNS); it must pass; its report."""
    env = {**project.env, **guard_env(project, production)}
    run = run_process([sys.executable, *GUARD_RUNS[how]], cwd=ROOT, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    report: dict[str, Any] = json.loads((project.root / "report.json").read_text())
    return report


@pytest.mark.parametrize("how", list(GUARD_RUNS))
def test_a_production_tenant_named_like_a_test_database_is_never_touched(
    tmp_path: Path, how: str
) -> None:
    """Issue 18.2: tenants in the tenants table, a production tenant test_acme with rows, a
    test run that uses tenant acme (its test database was ``tenants/test_acme.sqlite3``,
    test_acme's file: dropped, its rows gone). A test that creates a tenant at test_acme's
    database, or opens one recorded there, is refused; test_acme keeps its rows."""
    project = TenantProject(tmp_path, TEMPLATE)
    project.manage("migrate_all", "--verbosity", "0")
    project.manage("create_tenant", "test_acme", "--verbosity", "0")
    for _ in range(3):
        project.scenario(write, "test_acme")
    rows = project.sqlite_rows("tenants/test_acme.sqlite3", "SELECT title FROM notes_note")
    assert rows == [("test_acme-row",)] * 3

    report = run_guard(project, how, "tenants/test_acme.sqlite3")
    assert project.sqlite_rows("tenants/test_acme.sqlite3", "SELECT title FROM notes_note") == rows
    assert report["acme"] == {"count": 1, "database": str(tmp_path / "tenants/test-acme.sqlite3")}
    refusal = (
        f"ImproperlyConfigured: '{tmp_path / 'tenants/test_acme.sqlite3'}' is the production "
        "database of tenant 'test_acme'"
    )
    assert report["create"].startswith(refusal)
    assert "TenantsConfig.test_url" in report["create"]
    assert report["open"].startswith(refusal)
    assert not (tmp_path / "tenants/test-acme.sqlite3").exists()  # the test database: dropped
    tenants = project.sqlite_rows("default.sqlite3", "SELECT name FROM django_cfg_tenant")
    assert tenants == [("test_acme",)]  # the production tenants table: never written


@pytest.mark.postgres
def test_a_production_postgresql_tenant_named_like_a_test_database_is_never_touched(
    tmp_path: Path,
) -> None:
    """The same on PostgreSQL: template ``/{tenant}_tt<random>``, so acme's test database was
    test_acme's production database ``test_acme_tt<random>``."""
    suffix = secrets.token_hex(3)
    server = POSTGRES_URL.partition("?")[0].rpartition("/")[0]
    production = f"{server}/test_acme_tt{suffix}"
    project = TenantProject(tmp_path, f"{server}/{{tenant}}_tt{suffix}")
    try:
        project.manage("migrate_all", "--verbosity", "0")
        project.manage("create_tenant", "test_acme", "--verbosity", "0")
        project.scenario(write, "test_acme")
        for how in GUARD_RUNS:
            report = run_guard(project, how, production)
            assert server_rows(production, "SELECT title FROM notes_note") == [("test_acme-row",)]
            assert report["acme"] == {"count": 1, "database": f"test-acme_tt{suffix}"}
            for attempt in ("create", "open"):
                assert report[attempt].startswith(
                    f"ImproperlyConfigured: 'test_acme_tt{suffix}' is the production database "
                    "of tenant 'test_acme'"
                ), report[attempt]
            assert f"test-acme_tt{suffix}" not in server_databases(POSTGRES_URL)  # dropped
            tenants = project.sqlite_rows("default.sqlite3", "SELECT name FROM django_cfg_tenant")
            assert tenants == [("test_acme",)]
    finally:
        names = ("test_acme", "test-acme", "acme", "_template")  # _template: create_tenant's
        _drop(POSTGRES_URL, [f"{name}_tt{suffix}" for name in names])


def test_a_session_whose_default_is_production_is_refused(tmp_path: Path) -> None:
    """pytest-django sets up default's test database only for a session with a test marked
    django_db: without one, default is the production database when the tenants' test
    databases are set up, and a tenant created in a test would be recorded in the production
    tenants table. The run stops before any tenant is touched."""
    project = TenantProject(tmp_path, TEMPLATE)
    project.manage("migrate_all", "--verbosity", "0")
    args = [*GUARD_RUNS["pytest"], "-k", "no_tenant_of_the_tests"]  # not the marked test
    env = {**project.env, **guard_env(project, "tenants/test_acme.sqlite3")}
    run = run_process([sys.executable, *args], cwd=ROOT, env=env)
    assert run.returncode != 0
    assert f"default is still the production database '{tmp_path / 'default.sqlite3'}'" in (
        run.stdout + run.stderr
    )
    assert project.sqlite_rows("default.sqlite3", "SELECT name FROM django_cfg_tenant") == []
    assert not (tmp_path / "tenants").exists() or not list((tmp_path / "tenants").iterdir())


def test_pytest_recipe_without_the_production_tenants_is_refused(tmp_path: Path) -> None:
    """With the tenants table, ``tenant_test_databases()`` can no longer read the production
    rows once Django's test databases replaced default: it refuses, naming the fix."""
    project = TenantProject(tmp_path, TEMPLATE)
    project.manage("migrate_all", "--verbosity", "0")
    script = (
        "import django; django.setup()\n"
        "from django_cfg.tenants.testing import tenant_test_databases\n"
        "with tenant_test_databases():\n"
        "    pass\n"
    )
    run = run_process([sys.executable, "-c", script], cwd=ROOT, env=project.env)
    assert run.returncode != 0
    assert "pass production=ProductionDatabases.read()" in run.stderr
    assert "django_db_modify_db_settings" in run.stderr


@pytest.mark.postgres
def test_postgresql_tenant_test_databases_are_dropped(tmp_path: Path) -> None:
    suffix = secrets.token_hex(3)
    template = sibling_url(POSTGRES_URL, f"_tt{suffix}_{{tenant}}")
    production_names = {
        name: template.replace("{tenant}", name).partition("?")[0].rpartition("/")[2]
        for name in ("acme", "beta")
    }
    test_names = {name: f"test-{db}" for name, db in production_names.items()}
    project = TenantProject(tmp_path, template, names=["acme", "beta"])
    try:
        for run_tests in (manage_test, pytest_run):
            args = ("--testrunner", RUNNER, "--noinput") if run_tests is manage_test else ()
            _, report = run_tests(project, *args)
            for name in ("acme", "beta"):
                assert report[name]["database"] == test_names[name]
                assert report[name]["read_back"] == [f"{name}-test"]  # psycopg, during the run
            databases = server_databases(POSTGRES_URL)
            assert not set(test_names.values()) & databases  # dropped
            assert not set(production_names.values()) & databases  # never created
    finally:
        _drop(POSTGRES_URL, [*production_names.values(), *test_names.values()])


def _drop(server_url: str, names: list[str]) -> None:
    import psycopg

    base = server_url.partition("?")[0].rpartition("/")[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        for name in names:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def test_the_runner_refuses_parallel_workers() -> None:
    from django.core.exceptions import ImproperlyConfigured
    from django.test import override_settings

    from django_cfg.tenants.testing import TenantDiscoverRunner

    runner = TenantDiscoverRunner(parallel=2, verbosity=0)
    tenants = {"apps": ["notes"], "url": TEMPLATE, "names": ["acme"]}
    with (
        override_settings(DJANGO_CFG_TENANTS=tenants),
        pytest.raises(ImproperlyConfigured, match="without --parallel"),
    ):
        runner.setup_databases(aliases={"default"})


def test_databases_are_compared_by_what_they_are(tmp_path: Path) -> None:
    """``database_identity``: a SQLite file by its resolved path (a symbolic link is its
    target), a server database by host (loopback names and sockets are one), port (the
    engine's default when unset) and name (PostgreSQL compares the 63 bytes it keeps)."""
    from django_cfg.tenants.production import ProductionDatabases, database_identity

    (tmp_path / "real.sqlite3").touch()
    (tmp_path / "link.sqlite3").symlink_to(tmp_path / "real.sqlite3")
    production = ProductionDatabases(
        {
            key: "tenant 'a'"
            for key in database_identity("sqlite", {"NAME": tmp_path / "real.sqlite3"})
        }
        | {
            key: "tenant 'b'"
            for key in database_identity("postgresql", {"NAME": "b" * 70, "HOST": "localhost"})
        }
    )
    assert production.owner("sqlite", {"NAME": f"{tmp_path}/x/../link.sqlite3"}) == "tenant 'a'"
    assert production.owner("sqlite", {"NAME": str(tmp_path / "other.sqlite3")}) is None
    assert production.owner("sqlite", {"NAME": ":memory:"}) is None
    same = {"NAME": "b" * 63, "HOST": "127.0.0.1", "PORT": "5432"}
    assert production.owner("postgresql", same) == "tenant 'b'"
    assert production.owner("postgresql", {**same, "HOST": "/var/run/postgresql"}) == "tenant 'b'"
    assert production.owner("postgresql", {**same, "HOST": "db2,127.0.0.1"}) == "tenant 'b'"
    assert production.owner("postgresql", {**same, "PORT": "5433"}) is None
    assert production.owner("postgresql", {**same, "HOST": "db2"}) is None
    assert production.owner("mysql", same) is None  # another engine, another server
