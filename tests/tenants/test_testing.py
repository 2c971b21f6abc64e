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
from tests.tenants.project_support import ROOT, TenantProject, server_databases

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
    fixed.scenario("write", "acme", "beta")
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
            "database": str(tenants / f"test_{name}.sqlite3"),
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
    assert (tenants / "test_acme.sqlite3").exists()
    run, report = manage_test(production, "--testrunner", RUNNER, "--noinput", "--keepdb")
    assert "Using existing test database for alias 'tenant_acme'" in run.stderr
    assert report["acme"]["read_back"] == ["acme-test"]
    manage_test(production, "--testrunner", RUNNER, "--noinput")
    assert not (tenants / "test_acme.sqlite3").exists()


def test_manage_py_test_with_the_tenants_table(tmp_path: Path) -> None:
    """Tenants in the tenants table: the runner's ``tenants`` are recorded in the test
    database's table, created and migrated."""
    project = TenantProject(tmp_path, TEMPLATE)
    project.manage("migrate_all", "--verbosity", "0")
    _, report = manage_test(
        project, "--testrunner", "tests.tenants.project.selftests.runner.TableTenantsRunner"
    )
    assert report["acme"]["read_back"] == ["acme-test"]
    assert report["beta"]["database"] == str(tmp_path / "tenants" / "test_beta.sqlite3")
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
        assert report[name]["database"] == str(tenants / f"test_{name}.sqlite3")
        assert report[name]["read_back"] == [f"{name}-test"]
        assert not (tenants / f"test_{name}.sqlite3").exists()
    assert production_files(production) == before


def test_a_test_url_naming_the_production_databases_is_refused(tmp_path: Path) -> None:
    """``TenantsConfig.test_url`` equal to ``url``: the runner would drop each tenant's
    production database to create its test database. It refuses before touching any."""
    project = TenantProject(tmp_path, TEMPLATE, names=["acme", "beta"], test_url=TEMPLATE)
    project.manage("migrate_all", "--verbosity", "0")
    project.scenario("write", "acme", "beta")
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
        assert "Tenant 'acme': its test database" in output
        assert "is the production database of tenant 'acme' (TenantsConfig.url)" in output
        assert "TenantsConfig.test_url" in output
        assert production_files(project) == before
        assert project.sqlite_rows("tenants/acme.sqlite3", "SELECT title FROM notes_note") == [
            ("acme-row",)
        ]


def test_a_test_database_that_is_another_tenants_production_database_is_refused(
    tmp_path: Path,
) -> None:
    """The default test template puts acme's test database at ``tenants/test_acme.sqlite3``:
    the production database of a tenant named ``test_acme``. It was dropped, then its rows
    replaced by the test's."""
    project = TenantProject(tmp_path, TEMPLATE, names=["acme", "test_acme"])
    project.manage("migrate_all", "--verbosity", "0")
    project.scenario("write", "acme", "test_acme")
    before = production_files(project)
    command = ["-m", "tests.tenants.project.run", "manage", "test", SELFTEST, "--testrunner"]
    run = run_process([sys.executable, *command, RUNNER], cwd=ROOT, env=project.env)
    assert run.returncode != 0
    assert (
        "Tenant 'acme': its test database "
        f"'{tmp_path / 'tenants' / 'test_acme.sqlite3'}' is the production database of tenant "
        "'test_acme'"
    ) in run.stderr
    assert production_files(project) == before


@pytest.mark.postgres
def test_postgresql_tenant_test_databases_are_dropped(tmp_path: Path) -> None:
    suffix = secrets.token_hex(3)
    template = sibling_url(POSTGRES_URL, f"_tt{suffix}_{{tenant}}")
    production_names = {
        name: template.replace("{tenant}", name).partition("?")[0].rpartition("/")[2]
        for name in ("acme", "beta")
    }
    test_names = {name: f"test_{db}" for name, db in production_names.items()}
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
