"""``dumpdata_all`` / ``loaddata_all``: every database dumped and loaded back, each row on its own.

On each engine's pair of databases (tests/apps/crossdb: people on one, their posts on the
other, with ForeignKeys across), then once through ``manage.py`` in the example project. The
databases themselves (raw SQL) say which one holds each row after the load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.support.engine_pairs import PAIRS, Pair
from tests.support.example_project import ALIASES, ExampleProject


@pytest.fixture(params=PAIRS)
def pair(request: pytest.FixtureRequest) -> Pair:
    return request.param  # type: ignore[no-any-return]


def rows(pair: Pair, alias: str, model: str, columns: str) -> list[tuple[Any, ...]]:
    from django.db import connections

    table = pair.model(model)._meta.db_table
    with connections[alias].cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {table} ORDER BY id")
        return [tuple(row) for row in cursor.fetchall()]


def fill(pair: Pair) -> int:
    """Ada (people) with a post and a comment (posts): returns Ada's id."""
    ada = pair.model("Person").objects.create(name="ada")
    post = pair.model("Post").objects.create(title="Notes", author=ada)
    pair.model("Comment").objects.create(post=post, text="first")
    return int(ada.pk)


def empty(pair: Pair) -> None:
    pair.model("Comment").objects.all().delete()
    pair.model("Post").objects.all().delete()
    pair.model("Person").objects.all().delete()
    assert rows(pair, pair.people, "Person", "id") == []
    assert rows(pair, pair.posts, "Post", "id") == []


def dump(pair: Pair, directory: Path, *args: str) -> list[str]:
    call_command(
        "dumpdata_all",
        f"{pair.engine}_people",
        f"{pair.engine}_posts",
        *args,
        "-o",
        str(directory),
        "--database",
        pair.people,
        "--database",
        pair.posts,
        verbosity=0,
    )
    return sorted(path.name for path in directory.iterdir())


def models_in(fixture: Path) -> list[str]:
    return [row["model"] for row in json.loads(fixture.read_text())]


def test_round_trip_puts_every_row_back_on_its_own_database(pair: Pair, tmp_path: Path) -> None:
    ada = fill(pair)
    backup = tmp_path / "backup"

    assert dump(pair, backup) == sorted([f"{pair.people}.json", f"{pair.posts}.json"])
    assert models_in(backup / f"{pair.people}.json") == [f"{pair.engine}_people.person"]
    assert sorted(models_in(backup / f"{pair.posts}.json")) == [
        f"{pair.engine}_posts.comment",
        f"{pair.engine}_posts.post",
    ]
    empty(pair)

    call_command("loaddata_all", str(backup), verbosity=0)

    assert rows(pair, pair.people, "Person", "id, name") == [(ada, "ada")]
    assert rows(pair, pair.posts, "Post", "title, author_id") == [("Notes", ada)]
    assert rows(pair, pair.posts, "Comment", "text") == [("first",)]
    assert pair.model("Post").objects.get().author.name == "ada"  # the relation across works


def test_one_fixture_of_every_database_loads_each_object_on_its_models_database(
    pair: Pair, tmp_path: Path
) -> None:
    ada = fill(pair)
    dump(pair, tmp_path / "backup")
    combined = tmp_path / "all.json"
    combined.write_text(
        json.dumps(
            [
                row
                for file in sorted((tmp_path / "backup").iterdir())
                for row in json.loads(file.read_text())
            ]
        )
    )
    empty(pair)

    # Django's loaddata loads into one database and leaves the others' rows out, silently.
    call_command("loaddata", str(combined), database=pair.posts, verbosity=0)
    assert rows(pair, pair.people, "Person", "id") == []
    empty(pair)

    call_command("loaddata_all", str(combined), "--database", pair.people, "--database", pair.posts)

    assert rows(pair, pair.people, "Person", "id") == [(ada,)]
    assert rows(pair, pair.posts, "Post", "author_id") == [(ada,)]
    assert rows(pair, pair.posts, "Comment", "text") == [("first",)]


@pytest.mark.parametrize("pair", PAIRS[:1], indirect=True)
def test_a_failure_on_one_database_loads_nothing_anywhere(pair: Pair, tmp_path: Path) -> None:
    fill(pair)
    backup = tmp_path / "backup"
    dump(pair, backup)
    empty(pair)
    posts_file = backup / f"{pair.posts}.json"
    posts = json.loads(posts_file.read_text())
    for row in posts:
        row["fields"].pop("text", None)
        row["fields"].pop("title", None)
        row["fields"]["missing"] = 1  # an unknown field: loaddata refuses the file
    posts_file.write_text(json.dumps(posts))

    failure = rf"^{pair.posts}: Problem installing .*\(nothing was loaded on any database\)$"
    with pytest.raises(CommandError, match=failure):
        call_command("loaddata_all", str(backup), verbosity=0)

    assert rows(pair, pair.people, "Person", "id") == []  # loaded first, rolled back
    assert rows(pair, pair.posts, "Post", "id") == []


@pytest.mark.parametrize("pair", PAIRS[:1], indirect=True)
def test_refusals_name_the_cause(pair: Pair, tmp_path: Path) -> None:
    # Person has no natural key: --natural-foreign writes plain ids across, which load back.
    assert len(dump(pair, tmp_path / "natural", "--natural-foreign")) == 2

    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "old_db.json").write_text("[]")
    with pytest.raises(CommandError, match="no database 'old_db' in DATABASES"):
        call_command("loaddata_all", str(stray), verbosity=0)
    with pytest.raises(CommandError, match="'replica' \\(replica of postgres\\) holds no tables"):
        call_command("loaddata_all", str(stray), "--database", "replica", verbosity=0)
    with pytest.raises(CommandError, match="cannot read stdin"):
        call_command("loaddata_all", "-", verbosity=0)


# --- as a user runs it: manage.py in the example project (SQLite files) ---------------------------

DATA = """
from apps.accounts.models import User
from apps.blog.models import Comment, Post
from apps.shop.models import Order, Product
ada = User.objects.create_user(username="ada", email="ada@example.com")
post = Post.objects.create(title="Notes", author=ada)
Comment.objects.create(post=post, author=ada, text="first")
Order.objects.create(customer=ada, product=Product.objects.create(name="Book", price="9.50"))
"""


def test_example_project_dump_and_load_every_database(tmp_path: Path) -> None:
    source = ExampleProject.copy(tmp_path / "source")
    source.manage("migrate_all", "-v", "0")
    source.manage("shell", "-c", DATA)
    backup = tmp_path / "backup"

    output = source.manage("dumpdata_all", "-o", str(backup))

    assert output.splitlines() == [f"{alias}: dumped to {backup / alias}.json" for alias in ALIASES]
    assert "accounts.user" in models_in(backup / "default.json")
    assert "blog.post" not in models_in(backup / "default.json")
    assert sorted(models_in(backup / "blog_db.json")) == ["blog.comment", "blog.post"]

    # User has a natural key: across databases it could not be looked up when loading.
    refused = source.manage(
        "dumpdata_all", "-o", str(tmp_path / "nk"), "--natural-foreign", check=False
    )
    assert "--natural-foreign would write these cross-database ForeignKeys" in refused
    assert "blog.Post.author (blog_db) -> accounts.User (default)" in refused
    assert "Dump without --natural-foreign, or exclude these models" in refused

    target = ExampleProject.copy(tmp_path / "target")
    target.manage("migrate_all", "-v", "0")
    output = target.manage("loaddata_all", str(backup))

    assert "blog_db: installed 2 object(s) from blog_db.json" in output
    assert "shop_db: installed 2 object(s) from shop_db.json" in output
    [(ada,)] = target.query("default", "SELECT id FROM accounts_user WHERE username = 'ada'")
    assert target.query("blog_db", "SELECT title, author_id FROM blog_post") == [("Notes", ada)]
    assert target.query("blog_db", "SELECT text, author_id FROM blog_comment") == [("first", ada)]
    assert target.query("shop_db", "SELECT customer_id FROM shop_order") == [(ada,)]
    assert "accounts_user" not in target.tables("blog_db")


def test_copies_are_dumped_and_loaded_only_when_named() -> None:
    # A copy's rows are copies of its original's: visiting it by default would load them twice.
    from django.conf import settings
    from django.test import override_settings

    from django_cfg.schema.fixtures import data_databases

    databases = {**settings.DATABASES, "archive": dict(settings.DATABASES["sqlite_blog"])}
    roles = {**settings.DATABASE_ROLES, "archive": {"copy_of": "sqlite_blog"}}
    with override_settings(DATABASES=databases, DATABASE_ROLES=roles):
        assert "sqlite_blog" in data_databases(None)
        assert "archive" not in data_databases(None)
        assert data_databases(["archive"]) == ["archive"]
