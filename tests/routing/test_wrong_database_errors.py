"""A query sent to a database that does not hold its model's table names the real cause.

``User.objects.using("blog_db").count()`` involves no JOIN: the error says which model, which
database holds it, where the query went and how to send it there; a real JOIN across databases
still raises ``CrossDatabaseJoinError``. On SQLite, PostgreSQL and MariaDB (tests/apps/crossdb
pairs), and through ``manage.py`` in the example project.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from django.db import OperationalError, ProgrammingError, transaction

from django_cfg.relations.wrong_database_errors import (
    CrossDatabaseJoinError,
    TableNotOnDatabaseError,
)
from tests.support.engine_pairs import PAIRS, Pair, make_author
from tests.support.example_project import ALIASES, ExampleProject


@pytest.fixture(params=PAIRS)
def pair(request: pytest.FixtureRequest) -> Pair:
    return request.param  # type: ignore[no-any-return]


def test_reading_a_model_on_a_database_without_its_table(pair: Pair) -> None:
    person = pair.model("Person")
    with pytest.raises(TableNotOnDatabaseError) as raised, transaction.atomic(using=pair.posts):
        person.objects.using(pair.posts).count()

    message = str(raised.value)
    assert not isinstance(raised.value, CrossDatabaseJoinError)
    assert message.startswith(
        f"{pair.engine}_people.Person (table {person._meta.db_table}) lives on database "
        f"{pair.people!r}, but this query was sent to {pair.posts!r}, which does not hold "
        "that table. No JOIN is involved"
    )
    assert f"drop .using({pair.posts!r})" in message
    assert f".using({pair.people!r})" in message
    assert f"--database {pair.people}" in message
    assert "JOIN cannot cross" not in message
    assert isinstance(raised.value.__cause__, Exception)  # the driver's error is kept


ORIGINAL_ERROR = {"lite": OperationalError, "pg": ProgrammingError, "maria": ProgrammingError}


def test_the_backends_own_error_class_still_catches_it(pair: Pair) -> None:
    person = pair.model("Person")
    caught = None
    try:
        with transaction.atomic(using=pair.posts):
            person.objects.using(pair.posts).count()
    except ORIGINAL_ERROR[pair.engine] as error:  # what the backend raised without the package
        caught = error
    assert isinstance(caught, TableNotOnDatabaseError)
    assert type(caught.__cause__) is ORIGINAL_ERROR[pair.engine]
    assert "lives on database" in str(caught)
    copy = pickle.loads(pickle.dumps(caught))
    assert type(copy) is type(caught)
    assert copy.args == caught.args


def test_writing_a_model_on_a_database_without_its_table(pair: Pair) -> None:
    post = pair.model("Post")
    author = make_author(pair)
    with pytest.raises(TableNotOnDatabaseError) as raised, transaction.atomic(using=pair.people):
        post.objects.using(pair.people).create(title="t", author=author)
    assert f"{pair.engine}_posts.Post (table {post._meta.db_table}) lives on database" in str(
        raised.value
    )
    assert f"{pair.posts!r}" in str(raised.value)


def test_a_real_join_across_databases_is_still_a_join_error(pair: Pair) -> None:
    pair.model("Post").objects.create(title="t", author=make_author(pair))
    with pytest.raises(CrossDatabaseJoinError) as raised, transaction.atomic(using=pair.posts):
        list(pair.model("Post").objects.filter(author__name="ada"))
    assert not isinstance(raised.value, TableNotOnDatabaseError)
    assert "a JOIN cannot cross databases" in str(raised.value)


# --- as a user meets it: manage.py in the example project ---------------------------------------


@pytest.fixture(
    params=[pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def project(request: pytest.FixtureRequest, tmp_path: Path) -> ExampleProject:
    if request.param == "sqlite":
        example = ExampleProject.copy(tmp_path)
    else:
        create = request.getfixturevalue("new_postgres_database")
        example = ExampleProject.copy(tmp_path, {alias: create() for alias in ALIASES})
    example.manage("migrate_all", "-v", "0")
    return example


WRONG_DATABASE = (
    "TableNotOnDatabaseError: accounts.User (table accounts_user) lives on database 'default', "
    "but this query was sent to 'blog_db', which does not hold that table."
)


def test_createsuperuser_on_the_wrong_database_names_the_cause(project: ExampleProject) -> None:
    output = project.manage(
        "createsuperuser",
        "--database",
        "blog_db",
        "--noinput",
        "--username",
        "root",
        "--email",
        "root@example.com",
        check=False,
    )
    assert WRONG_DATABASE in output
    assert "--database default" in output
    assert "JOIN" not in output.replace("No JOIN is involved", "")
    assert project.query("default", "SELECT username FROM accounts_user") == []

    project.manage(
        "createsuperuser", "--noinput", "--username", "root", "--email", "root@example.com"
    )
    assert project.query("default", "SELECT username FROM accounts_user") == [("root",)]


def test_using_the_wrong_database_in_code_names_the_cause(project: ExampleProject) -> None:
    output = project.manage(
        "shell",
        "-c",
        "from apps.accounts.models import User; User.objects.using('blog_db').count()",
        check=False,
    )
    assert WRONG_DATABASE in output
