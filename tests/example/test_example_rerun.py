"""scripts/example.sh run twice: the second run adds no rows, prints what the first printed, and
installs nothing (bootstrap's stamp: same checkout, interpreter and pyproject.toml). The tenant
mode's second run: tests/example/test_example_tenants.py::test_tenant_mode_on_sqlite_files."""

from __future__ import annotations

import sqlite3
import sys
from contextlib import closing
from pathlib import Path

from tests.example.test_example_tenants import from_the_demo, run_example
from tests.support.example_project import ExampleProject

UP_TO_DATE = "bootstrap: django-cfg in {venv} is up to date (pyproject.toml unchanged)"


def rows(project: ExampleProject, relative: str, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(project.root / relative)) as connection:
        return connection.execute(sql).fetchall()


def test_a_second_run_prints_the_same_and_adds_nothing(tmp_path: Path) -> None:
    project = ExampleProject.copy(tmp_path)
    first, second = run_example(project), run_example(project)

    assert from_the_demo(second, "environment: ") == from_the_demo(first, "environment: ")
    assert len(from_the_demo(first, "environment: ")) > 20
    assert "user.blog_posts.all() (read from blog_db): <QuerySet [<Post: Hello World>]>" in second
    assert rows(project, "db/blog.sqlite3", "SELECT title FROM blog_post") == [("Hello World",)]
    assert rows(project, "db/shop.sqlite3", "SELECT name FROM shop_product") == [
        ("Django-CFG Book",)
    ]
    # the second run found the editable install up to date: no pip
    assert second.splitlines()[0] == UP_TO_DATE.format(venv=sys.prefix)
    assert "default: up to date" in second
