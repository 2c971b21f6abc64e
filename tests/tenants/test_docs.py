"""docs/tenants.md's ```pycon examples run, as doctests, in the tenant test project."""

from __future__ import annotations

from pathlib import Path

from tests.support.spec_page import run_python
from tests.tenants.project_support import ROOT, TenantProject


def test_documented_examples_run(tmp_path: Path) -> None:
    project = TenantProject(tmp_path, "sqlite:///tenants/{tenant}.sqlite3", names=["acme", "beta"])
    project.manage("migrate_all", "--verbosity", "0")
    output = run_python(
        str(ROOT / "tests" / "support" / "docs_doctest.py"),
        str(ROOT / "docs" / "tenants.md"),
        cwd=ROOT,
        env=project.env,
        check=False,
    )
    assert output.rstrip().endswith("examples, 0 failed"), output
