"""pytest-xdist on a tenant project's suite: each worker gets tenant test databases of its own
(``test-{tenant}-gw0``, as pytest-django suffixes ``default``'s), so ``-n 2`` runs with 0
errors; SQLite files and PostgreSQL databases. Before, both workers created, used and dropped
the same tenant test databases (6 errors a run)."""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

import pytest

from tests.support.services import POSTGRES_URL, sibling_url
from tests.support.spec_page import run_process
from tests.tenants.project_support import ROOT, SQLITE_TEMPLATE, TenantProject, server_databases

SUITE = "tests/tenants/project/selftests/xdist_suite.py"


@pytest.mark.parametrize(
    "engine",
    [
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", marks=pytest.mark.postgres, id="postgresql"),
    ],
)
def test_two_xdist_workers_each_have_their_own_tenant_test_databases(
    tmp_path: Path, engine: str
) -> None:
    suffix = secrets.token_hex(3)
    template = (
        SQLITE_TEMPLATE
        if engine == "sqlite"
        else sibling_url(POSTGRES_URL, f"_x{suffix}_{{tenant}}")
    )
    project = TenantProject(tmp_path, template, names=["acme", "beta"])
    reports = tmp_path / "reports"
    reports.mkdir()
    env = {**project.env, "TENANT_TEST_REPORT": str(reports)}
    run = run_process(
        [sys.executable, "-m", "pytest", SUITE, "-n", "2", "--ds", "tests.tenants.project.settings",
         "--confcutdir", "tests/tenants/project/selftests", "-p", "no:cacheprovider", "-q"],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "8 passed" in run.stdout
    assert "error" not in run.stdout.lower()
    used = [json.loads(path.read_text()) for path in sorted(reports.glob("*.json"))]
    assert len(used) == 8
    workers = {report["worker"] for report in used}
    assert workers == {"gw0", "gw1"}  # both ran tests
    for report in used:
        for name, database in report["databases"].items():
            production = template.replace("{tenant}", name).partition("?")[0].rpartition("/")[2]
            stem, dot, extension = production.partition(".")  # acme.sqlite3, or a database name
            assert database.endswith(f"test-{stem}-{report['worker']}{dot}{extension}"), database
    if engine == "sqlite":
        assert not list((tmp_path / "tenants").glob("test-*.sqlite3"))  # dropped at the end
    else:
        assert not {d for d in server_databases(POSTGRES_URL) if f"_x{suffix}_" in d}
