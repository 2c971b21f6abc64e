"""The docs' examples run: ```pycon examples as doctests and every ```python block (README's
too) by what it is (tests/support/docs_snippets.py), against the example project."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.support.docs_snippets import python_blocks
from tests.support.example_project import ExampleProject
from tests.support.spec_page import run_process

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    "routing.md",
    "migrations.md",
    "cross-database-relations.md",
    "replicas.md",
    "security.md",
    "admin.md",
]
SNIPPET_PAGES = [
    ROOT / "README.md",
    *sorted(page for page in (ROOT / "docs").glob("*.md") if python_blocks(page)),
]


@pytest.fixture(scope="module")
def migrated_example(tmp_path_factory: pytest.TempPathFactory) -> ExampleProject:
    project = ExampleProject.copy(tmp_path_factory.mktemp("docs"))
    project.manage("migrate_all", "--verbosity", "0")
    return project


@pytest.mark.parametrize("page", PAGES)
def test_documented_examples_run(tmp_path: Path, page: str) -> None:
    project = ExampleProject.copy(tmp_path)
    project.manage("migrate_all", "--verbosity", "0")
    output = project.python(
        str(ROOT / "tests" / "support" / "docs_doctest.py"), str(ROOT / "docs" / page)
    )
    assert output.rstrip().endswith("examples, 0 failed")


@pytest.mark.parametrize("page", SNIPPET_PAGES, ids=lambda page: page.name)
def test_every_python_block_runs(migrated_example: ExampleProject, page: Path) -> None:
    # replicas.md's monitor example needs a replica (the example's own, on default's file);
    # configuration.md's loader gives its replica_db fields when DATABASE__URL_REPLICA is set
    replica = {"DATABASE__URL_REPLICA": "sqlite:///db/default.sqlite3"}
    env = replica if page.name in {"replicas.md", "configuration.md"} else {}
    run = run_process(
        [sys.executable, str(ROOT / "tests" / "support" / "docs_snippets.py"), str(page)],
        cwd=migrated_example.root,
        env={**migrated_example.env, **env},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    blocks = len(python_blocks(page))
    assert run.stdout.rstrip().endswith(f"{page.name}: {blocks} blocks, 0 failed")
    assert run.stdout.count(": ok\n") == blocks


def test_every_page_with_python_blocks_is_covered() -> None:
    pages = [p for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")] if python_blocks(p)]
    assert sorted(pages) == sorted(SNIPPET_PAGES)
    assert len(SNIPPET_PAGES) >= 9


README_SETTINGS = "from api.config import config\nglobals().update(config.get_all_settings())\n"


def test_readme_project_reads_through_its_replica(tmp_path: Path) -> None:
    """README's loader and config, as written, in a project of their own: with
    DATABASE__URL_REPLICA set, migrate_all and a query through the router work."""
    readme = (ROOT / "README.md").read_text()
    blocks = [text for _, text in python_blocks(ROOT / "README.md")]
    config = next(b for b in blocks if b.startswith("# api/config.py"))
    loader = next(b for b in blocks if b.startswith("# api/environment/loader.py"))
    assert "myapp" not in readme
    assert "class DatabaseConfig(BaseSettings)" not in readme  # the loader's class: no clash
    files = {
        "api/__init__.py": "",
        "api/config.py": config.split("# settings.py")[0],
        "api/settings.py": README_SETTINGS,
        "api/environment/__init__.py": "from .loader import env\n",
        "api/environment/loader.py": loader,
        "manage.py": (ROOT / "examples" / "saas" / "manage.py").read_text(),
    }
    assert config.split("# settings.py")[1].strip() == README_SETTINGS.strip()
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    env = {"DATABASE__URL_REPLICA": "sqlite:///db/default.sqlite3"}
    for command in (["check"], ["migrate_all", "-v", "0"]):
        run = run_process([sys.executable, "manage.py", *command], cwd=tmp_path, env=env)
        assert run.returncode == 0, run.stdout + run.stderr
    query = (  # ContentType: an ordinary model; auth reads its primary (replica_primary_reads)
        "from django.contrib.auth.models import User; from django.db import router; "
        "from django.contrib.contenttypes.models import ContentType; "
        "print(User.objects.count(), router.db_for_read(ContentType), router.db_for_read(User), "
        "router.db_for_write(User))"
    )
    run = run_process([sys.executable, "manage.py", "shell", "-c", query], cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[-1].split() == ["0", "replica", "default", "default"]
    assert re.search(r"^# settings\.py$", config, re.M)
