"""Relations between rows on two databases: allowed only where the models' routing declares them.

The router's ``allow_relation`` decides whether Django lets ``post.author = person`` or
``user.groups.add(group)`` through when the two rows come from different databases. A wrong
"yes" stores a primary key that names another row (or no row) on the database that keeps it;
a wrong "no" breaks a cross-database ForeignKey. Django's own version of these tests runs in
scripts/django_suite.sh (its multiple_database module with this router installed).
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, User
from django.core import checks
from django.db import transaction
from django.test import override_settings

from django_cfg import DatabaseConfig, DjangoConfig
from django_cfg.routing.router import DatabaseRouter
from django_cfg.state.topology import Topology

Person = apps.get_model("lite_people", "Person")  # home: default
Post = apps.get_model("lite_posts", "Post")  # home: sqlite_blog; Post.author -> Person
Comment = apps.get_model("lite_posts", "Comment")  # home: sqlite_blog; Comment.post -> Post

ALIASES = (
    "default",
    "sqlite_blog",
    "blog_replica",  # replica of sqlite_blog
    "archive",  # a copy of sqlite_blog's tables (copy_of)
    "people_archive",  # a copy of default's tables
    "other",  # a primary that holds no app (no tables of these models)
    "warehouse",  # read-only
)


def compiled(cross_database_relations: bool = True) -> Topology:
    settings = SimpleNamespace(
        DATABASES={alias: {} for alias in ALIASES},
        DATABASE_ROUTING_RULES={"lite_posts": "sqlite_blog"},
        DATABASE_ROLES={
            "blog_replica": {"replica_of": "sqlite_blog"},
            "archive": {"copy_of": "sqlite_blog"},
            "people_archive": {"copy_of": "default"},
            "warehouse": {"read_only": True},
        },
        DATABASE_CROSS_RELATIONS=cross_database_relations,
    )
    return Topology.from_settings(settings, app_labels={})


ROUTER = DatabaseRouter(compiled())


def row(model: Any, db: str | None) -> Any:
    """A row of ``model`` as loaded from ``db`` (``Model.objects.using(db).get(...)``)."""
    obj = model(pk=1)
    obj._state.db = db
    obj._state.adding = db is None
    return obj


@pytest.mark.parametrize(
    ("first", "second", "allowed"),
    [
        # Same data: one database, or a primary and its replica.
        ((Post, "sqlite_blog"), (Comment, "sqlite_blog"), True),
        ((Post, "archive"), (Comment, "archive"), True),
        ((Post, "blog_replica"), (Comment, "sqlite_blog"), True),
        ((Person, "other"), (Person, "other"), True),
        # The declared cross-database relation Post.author: each row on its home (or replica).
        ((Post, "sqlite_blog"), (Person, "default"), True),
        ((Post, "blog_replica"), (Person, "default"), True),
        # A copy of the blog keeps posts whose author is read from Person's home.
        ((Post, "archive"), (Person, "default"), True),
        # ...but not from a copy of Person's home: post.author would read default's row.
        ((Post, "archive"), (Person, "people_archive"), False),
        ((Post, "sqlite_blog"), (Person, "people_archive"), False),
        # One home's rows on two databases: the stored pk names another row over there.
        ((Post, "sqlite_blog"), (Comment, "archive"), False),
        ((Post, "archive"), (Comment, "blog_replica"), False),
        ((Person, "default"), (Person, "other"), False),
        ((Person, "default"), (Person, "people_archive"), False),
        # A row on a database that holds no copy of its model's tables.
        ((Post, "other"), (Person, "default"), False),
        ((Post, "sqlite_blog"), (Person, "other"), False),
        ((Post, "sqlite_blog"), (Person, "warehouse"), False),
    ],
)
def test_allow_relation(first: tuple[Any, str], second: tuple[Any, str], allowed: bool) -> None:
    a, b = row(*first), row(*second)
    assert ROUTER.allow_relation(a, b) is allowed
    assert ROUTER.allow_relation(b, a) is allowed  # Django passes them in either order


def test_unsaved_rows_are_left_to_django() -> None:
    assert ROUTER.allow_relation(row(Post, None), row(Person, "default")) is None


def test_cross_database_relations_off_refuses_every_crossing() -> None:
    strict = DatabaseRouter(compiled(cross_database_relations=False))
    assert not strict.allow_relation(row(Post, "sqlite_blog"), row(Person, "default"))
    assert strict.allow_relation(row(Post, "blog_replica"), row(Comment, "sqlite_blog"))


def test_copies_get_the_tables_of_the_database_they_copy() -> None:
    topology = compiled()
    assert topology.migration_targets == ("default", "sqlite_blog", "archive", "people_archive")
    assert topology.roles["archive"].describe() == "copy of sqlite_blog"
    assert ROUTER.allow_migrate("archive", "lite_posts")
    assert not ROUTER.allow_migrate("archive", "lite_people")
    assert ROUTER.allow_migrate("people_archive", "lite_people")
    assert ROUTER.allow_migrate("people_archive", "auth")
    assert not ROUTER.allow_migrate("people_archive", "lite_posts")
    assert not ROUTER.allow_migrate("other", "lite_people")  # not declared: no tables
    assert not ROUTER.allow_migrate("blog_replica", "lite_posts")


# Through Django's own descriptors and managers, with the suite's installed router
# (default: lite_people, auth; sqlite_blog: lite_posts).


@pytest.mark.django_db(databases=["default", "sqlite_blog"])
def test_a_foreign_key_to_a_row_of_another_database_is_refused_by_django() -> None:
    person = Person.objects.create(name="ada")
    post = Post.objects.create(title="notes", author=person)  # the declared crossing works
    assert (post._state.db, Post.objects.get(pk=post.pk).author.name) == ("sqlite_blog", "ada")

    stray = row(Person, "postgres")  # a Person read from a database that is not its home
    with pytest.raises(ValueError, match="the current database router prevents this relation"):
        post.author = stray
    assert Post.objects.get(pk=post.pk).author_id == person.pk

    comment = Comment.objects.create(text="hi", post=post)
    other_post = row(Post, "default")  # a Post read from default, not from the blog
    with pytest.raises(ValueError, match="the current database router prevents this relation"):
        comment.post = other_post
    assert comment.post_id == post.pk


@pytest.mark.django_db(databases=["default", "sqlite_blog"])
def test_a_many_to_many_link_across_databases_is_refused_by_django() -> None:
    user = User.objects.create(username="ada")
    group = Group.objects.create(name="editors")
    stray = Group(pk=group.pk, name="editors")
    stray._state.db, stray._state.adding = "sqlite_blog", False
    with (
        pytest.raises(
            ValueError,
            match='instance is on database "default", value is on database "sqlite_blog"',
        ),
        transaction.atomic(),
    ):  # add() fails inside its own atomic block
        user.groups.add(stray)
    assert list(user.groups.all()) == []
    user.groups.add(group)
    assert list(user.groups.values_list("name", flat=True)) == ["editors"]


# Declaring copies.


def test_copy_of_becomes_a_role() -> None:
    class Config(DjangoConfig):
        databases: dict[str, DatabaseConfig] = {
            "default": DatabaseConfig.from_url("sqlite://"),
            "blog_db": DatabaseConfig.from_url("sqlite://", apps=["blog"]),
            "archive": DatabaseConfig.from_url("sqlite://", copy_of="blog_db"),
        }

    assert Config().get_all_settings()["DATABASE_ROLES"]["archive"] == {"copy_of": "blog_db"}


@pytest.mark.parametrize(
    ("databases", "message"),
    [
        ({"archive": {"copy_of": "blog"}}, "databases['archive']: copy_of='blog' is not another"),
        ({"archive": {"copy_of": "archive"}}, "copy_of='archive' is not another"),
        (
            {"replica": {"replica_of": "default"}, "archive": {"copy_of": "replica"}},
            "a replica or a copy cannot be copied",
        ),
        (
            {"a": {"copy_of": "default"}, "archive": {"copy_of": "a"}},
            "a replica or a copy cannot be copied",
        ),
    ],
)
def test_copy_of_must_name_another_primary(databases: dict[str, Any], message: str) -> None:
    configs = {"default": DatabaseConfig.from_url("sqlite://")}
    configs |= {alias: DatabaseConfig.from_url("sqlite://", **f) for alias, f in databases.items()}
    with pytest.raises(ValueError, match=re.escape(message)):
        DjangoConfig(databases=configs)


def test_a_copy_serves_the_apps_of_its_original() -> None:
    with pytest.raises(ValueError, match="a copy holds the apps of 'default'; remove apps="):
        DatabaseConfig.from_url("sqlite://", copy_of="default", apps=["blog"])
    with pytest.raises(ValueError, match="a copy holds the apps of 'default'; remove replica_of"):
        DatabaseConfig.from_url("sqlite://", copy_of="default", replica_of="default")


def test_a_hand_written_copy_of_an_unknown_database_is_a_check_error() -> None:
    roles = {"sqlite_blog": {"apps": ["lite_posts"]}, "postgres_blog": {"copy_of": "blgo"}}
    with override_settings(DATABASE_ROLES=roles):
        found = [m for m in checks.run_checks(tags=["django_cfg"]) if m.id == "django_cfg.E007"]
    assert len(found) == 1
    assert "'postgres_blog' is a copy of 'blgo'" in found[0].msg


def test_the_settings_of_djangos_own_suite_install_the_router_with_other_a_copy() -> None:
    """scripts/django_suite.sh runs Django's multiple_database tests with these settings."""
    from tests.django_suite import settings as suite

    assert suite.DATABASE_ROUTERS == ["django_cfg.routing.router.DatabaseRouter"]
    assert suite.DATABASE_ROLES == {"other": {"copy_of": "default"}}
    assert set(suite.DATABASES) == {"default", "other"}
