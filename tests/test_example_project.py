"""The README's main job: the example project runs on SQLite, and on PostgreSQL by URL."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.seed_page import SETTINGS_MODULE, block, run_python

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "saas"


def run_example(folder: Path, database_url: str | None = None) -> str:
    migrate = run_python("manage.py", "migrate", "--noinput", cwd=folder, database_url=database_url)
    return migrate + run_python("demo.py", cwd=folder, database_url=database_url)


@pytest.fixture
def example(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE, tmp_path / "saas", ignore=shutil.ignore_patterns("db", "__pycache__"))
    return tmp_path / "saas"


def test_example_runs_on_its_sqlite_default(example: Path) -> None:
    output = run_example(example)
    assert f"NAME={example / 'db' / 'default.sqlite3'}" in output
    assert "user 'john' created in 'default' (sqlite); rows with that name there: 1" in output
    assert (example / "db" / "default.sqlite3").is_file()


@pytest.mark.postgres
def test_example_runs_on_postgresql_from_database_url(example: Path, scratch_postgres: str) -> None:
    output = run_example(example, scratch_postgres)
    assert "user 'john' created in 'default' (postgresql); rows with that name there: 1" in output
    assert not (example / "db").exists()


def test_example_keeps_the_seed_files_verbatim() -> None:
    section = "Multi-Database Setup (Advanced)"
    config = (EXAMPLE / "api" / "config.py").read_text()
    loader = (EXAMPLE / "api" / "environment" / "loader.py").read_text()
    assert config == block("python", section, "# api/config.py")
    assert loader.startswith(block("python", section, "# api/environment/loader.py"))
    settings = (EXAMPLE / "api" / "settings.py").read_text()
    assert settings.startswith(SETTINGS_MODULE.join(["# settings.py\n", ""]))
