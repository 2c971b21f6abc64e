"""The README's main job: the example SaaS project, on SQLite files, PostgreSQL and MariaDB."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.example_project import ALIASES, EXAMPLE, ExampleProject
from tests.support.spec_page import block, run_process

ROOT = EXAMPLE.parent.parent
ADVANCED = "Multi-Database Setup (Advanced)"

DEMO_LINES = [
    "user 'john': rows in ['default']",
    "post 1 'Hello World': rows in ['blog_db']",
    "product 1 'Django-CFG Book': rows in ['shop_db']",
    "post.author (a blog_db row pointing into default): 'john'",
    "user.blog_posts.all() (read from blog_db): <QuerySet [<Post: Hello World>]>",
]
HOME_TABLES = {
    "default": {"accounts_user", "auth_group", "django_content_type", "django_session"},
    "blog_db": {"blog_post", "blog_comment"},
    "shop_db": {"shop_product", "shop_order"},
}


def assert_each_app_on_its_database(project: ExampleProject) -> None:
    tables = {alias: project.tables(alias) for alias in ALIASES}
    for alias, expected in HOME_TABLES.items():
        assert expected <= tables[alias], alias
        for other in (a for a in ALIASES if a != alias):
            assert not expected & tables[other], f"{alias}'s tables also on {other}"


def test_readme_main_job_runs_end_to_end(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    assert "scripts/example.sh" in readme
    project = ExampleProject.copy(tmp_path)
    run = run_process(
        [str(ROOT / "scripts" / "example.sh")],
        cwd=tmp_path,
        env={"VENV": sys.prefix, "EXAMPLE_DIR": str(project.root), "PATH": os.environ["PATH"]},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    for line in DEMO_LINES:
        assert line in run.stdout
    assert "default: 21 applied" in run.stdout
    assert "blog_db: 2 applied: blog.0001_initial, django_cfg.0001_delete_intents" in run.stdout
    assert run.stdout.count("migrations: up to date") == 3  # db_status, last
    assert sorted(p.name for p in (project.root / "db").glob("*.sqlite3")) == [
        "blog.sqlite3",
        "default.sqlite3",
        "shop.sqlite3",
    ]
    assert_each_app_on_its_database(project)


def server_urls(new_database: Callable[[], str]) -> dict[str, str]:
    return {alias: new_database() for alias in ALIASES}


@pytest.mark.parametrize(
    "fixture",
    [
        pytest.param("new_postgres_database", marks=pytest.mark.postgres, id="postgresql"),
        pytest.param("new_mariadb_database", marks=pytest.mark.mariadb, id="mariadb"),
    ],
)
def test_example_on_three_server_databases(
    tmp_path: Path, fixture: str, request: pytest.FixtureRequest
) -> None:
    project = ExampleProject.copy(tmp_path, server_urls(request.getfixturevalue(fixture)))
    project.manage("migrate_all", "--noinput")
    output = project.python("demo.py")
    for line in DEMO_LINES:
        assert line in output
    status = project.manage("db_status")
    assert status.count("migrations: up to date") == 3
    assert_each_app_on_its_database(project)
    assert project.query("blog_db", "SELECT title FROM blog_post") == [("Hello World",)]
    assert project.query("shop_db", "SELECT name FROM shop_product") == [("Django-CFG Book",)]
    assert project.query("default", "SELECT username FROM accounts_user") == [("john",)]
    assert not (project.root / "db").exists()  # nothing fell back to SQLite


def lines_in_order(needle: str, haystack: str) -> bool:
    """Every non-blank line of ``needle`` appears in ``haystack``, in the same order."""
    lines = haystack.splitlines()
    position = 0
    for line in (line for line in needle.splitlines() if line.strip()):
        try:
            position = lines.index(line, position) + 1
        except ValueError:
            return False
    return True


def test_example_files_follow_the_spec() -> None:
    loader = (EXAMPLE / "api" / "environment" / "loader.py").read_text()
    config = (EXAMPLE / "api" / "config.py").read_text()
    settings = (EXAMPLE / "api" / "settings.py").read_text()
    assert lines_in_order(block("python", ADVANCED, "# api/environment/loader.py"), loader)
    assert lines_in_order(block("python", ADVANCED, "# api/config.py"), config)
    rules = block("python", "Automatic Routing", "# settings.py")
    assert settings.endswith(rules.removeprefix("# settings.py\n"))
    env_example = (EXAMPLE / ".env.example").read_text()
    assert lines_in_order(block("bash", ADVANCED, "# .env or system ENV"), "\n" + env_example)


def test_spec_best_practice_names_give_the_example_its_aliases() -> None:
    block_text = block("python", "1. Consistent Naming", "url: str")
    assert "'blog_db'" in block_text
    assert "'shop_db'" in block_text
    loader = (EXAMPLE / "api" / "environment" / "loader.py").read_text()
    assert "url_blog: str" in loader
    assert "url_shop: str" in loader
