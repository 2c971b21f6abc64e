"""The docs' ```pycon examples run, as doctests, against the example project."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.example_project import ExampleProject

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    "routing.md",
    "migrations.md",
    "cross-database-relations.md",
    "replicas.md",
    "security.md",
    "admin.md",
]


@pytest.mark.parametrize("page", PAGES)
def test_documented_examples_run(tmp_path: Path, page: str) -> None:
    project = ExampleProject.copy(tmp_path)
    project.manage("migrate_all", "--verbosity", "0")
    output = project.python(
        str(ROOT / "tests" / "support" / "docs_doctest.py"), str(ROOT / "docs" / page)
    )
    assert output.rstrip().endswith("examples, 0 failed")
