"""The spec page's routing blocks, run verbatim in the example project: SQLite and PostgreSQL.

"Testing Setup" (its bash commands, then its shell session fed to ``manage.py shell``) and the
"Automatic Routing" usage example; the databases themselves say where each row went.
"""

from __future__ import annotations

import shlex
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.example_project import ALIASES, ExampleProject
from tests.support.spec_page import block

SHELL_SESSION = block("python", "Testing Setup", "# Shell - test automatic routing")
USAGE_EXAMPLE = block("python", "Usage Example", "# Blog operations automatically use blog_db")
COMMANDS = [
    shlex.split(line)[1:]  # "python manage.py X" -> ["manage.py", "X"]
    for line in block("bash", "Testing Setup", "# Create migrations").splitlines()
    if line.startswith("python ")
]


@pytest.fixture(
    params=[pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def project(request: pytest.FixtureRequest, tmp_path: Path) -> ExampleProject:
    if request.param == "sqlite":
        return ExampleProject.copy(tmp_path)
    create = request.getfixturevalue("new_postgres_database")
    return ExampleProject.copy(tmp_path, {alias: create() for alias in ALIASES})


def test_testing_setup_commands_and_shell_session_run_verbatim(project: ExampleProject) -> None:
    assert COMMANDS == [
        ["manage.py", "makemigrations"],
        ["manage.py", "migrate_all"],
        ["manage.py", "migrator", "--auto"],
        ["manage.py", "shell"],
    ]
    *setup, shell = COMMANDS
    for command in setup:
        project.python(*command)
    output = project.python(*shell, stdin=SHELL_SESSION)

    assert "john\n" in output  # print(post.author.username)
    assert "<QuerySet [<Post: Hello World>]>" in output  # print(user.blog_posts.all())
    assert project.query("default", "SELECT username, email FROM accounts_user") == [
        ("john", "john@example.com")
    ]
    users = project.query("default", "SELECT id FROM accounts_user")
    posts = project.query("blog_db", "SELECT title, author_id FROM blog_post")
    assert posts == [("Hello World", users[0][0])]
    assert "blog_post" not in project.tables("default")


def test_usage_example_rows_land_on_blog_db_shop_db_and_default(project: ExampleProject) -> None:
    project.manage("migrate_all")
    project.manage("shell", stdin=USAGE_EXAMPLE)

    assert project.query("blog_db", "SELECT title FROM blog_post") == [("My First Post",)]
    ((name, price),) = project.query("shop_db", "SELECT name, price FROM shop_product")
    assert (name, Decimal(str(price))) == ("Django-CFG Book", Decimal("29.99"))
    assert project.query("default", "SELECT email FROM accounts_user") == [("user@example.com",)]
    for alias, table in [("default", "blog_post"), ("default", "shop_product")]:
        assert table not in project.tables(alias)
