"""ForeignKeys across databases on every engine: people on one database, their posts on another.

The apps come in pairs (tests/apps/crossdb, tests/support/engine_pairs.py): ``<engine>_people``
holds Person, ``<engine>_posts`` holds models pointing at Person with each on_delete mode. Every
assertion reads the databases themselves (raw SQL) to say where rows are.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connections, transaction
from django.db.models import ProtectedError, RestrictedError
from django.test.utils import CaptureQueriesContext

from django_cfg.relations.wrong_database_errors import CrossDatabaseJoinError
from tests.support.engine_pairs import PAIRS, Pair, make_author


@pytest.fixture(params=PAIRS)
def pair(request: pytest.FixtureRequest) -> Pair:
    return request.param  # type: ignore[no-any-return]


def test_rows_land_on_their_app_database_and_relations_resolve_across(pair: Pair) -> None:
    person = make_author(pair)
    post = pair.model("Post").objects.create(title="hello", author=person)

    assert (person._state.db, post._state.db) == (pair.people, pair.posts)
    assert pair.count(pair.posts, "Post", f"author_id = {person.pk}") == 1
    fresh = pair.model("Post").objects.get(pk=post.pk)
    assert fresh._state.db == pair.posts
    assert fresh.author.name == "ada"  # forward access reads the people database
    assert fresh.author._state.db == pair.people
    assert [p.pk for p in person.posts.all()] == [post.pk]  # reverse manager reads posts
    assert person.posts.get()._state.db == pair.posts


def test_prefetch_related_runs_one_query_per_database(pair: Pair) -> None:
    people = [make_author(pair, name) for name in ("ada", "bob")]
    for person in people:
        pair.model("Post").objects.create(title=f"by {person.name}", author=person)

    with (
        CaptureQueriesContext(connections[pair.people]) as on_people,
        CaptureQueriesContext(connections[pair.posts]) as on_posts,
    ):
        posts = list(pair.model("Post").objects.prefetch_related("author").order_by("pk"))
        names = [post.author.name for post in posts]
    assert names == ["ada", "bob"]
    assert (len(on_posts), len(on_people)) == (1, 1)

    with_posts = pair.model("Person").objects.prefetch_related("posts").order_by("pk")
    assert [[p.title for p in person.posts.all()] for person in with_posts] == [
        ["by ada"],
        ["by bob"],
    ]


def test_no_database_constraint_is_created_across_databases(pair: Pair) -> None:
    post = pair.model("Post")
    assert post._meta.get_field("author").db_constraint is False
    assert pair.model("Comment")._meta.get_field("post").db_constraint is True  # same database
    with connections[pair.posts].cursor() as cursor:
        constraints = connections[pair.posts].introspection.get_constraints(
            cursor, post._meta.db_table
        )
    person_table = pair.model("Person")._meta.db_table
    assert not [c for c in constraints.values() if (c["foreign_key"] or ("",))[0] == person_table]


@pytest.mark.parametrize("delete", ["instance", "queryset"])
def test_cascade_deletes_rows_on_the_other_database(pair: Pair, delete: str) -> None:
    ada, bob = make_author(pair, "ada"), make_author(pair, "bob")
    for person in (ada, bob):
        post = pair.model("Post").objects.create(title="t", author=person)
        pair.model("Comment").objects.create(text="c", post=post)  # same-database child

    if delete == "instance":
        total, per_model = ada.delete()
    else:
        total, per_model = pair.model("Person").objects.filter(pk=ada.pk).delete()

    assert per_model[f"{pair.engine}_posts.Post"] == 1
    assert per_model[f"{pair.engine}_posts.Comment"] == 1
    assert per_model[f"{pair.engine}_people.Person"] == 1
    assert total == 3
    assert pair.count(pair.people, "Person") == 1
    assert pair.count(pair.posts, "Post") == 1  # bob's
    assert pair.count(pair.posts, "Comment") == 1
    assert pair.count(pair.posts, "Post", f"author_id = {bob.pk}") == 1


@pytest.mark.parametrize("delete", ["instance", "queryset"])
def test_set_null_nulls_rows_on_the_other_database(pair: Pair, delete: str) -> None:
    ada = make_author(pair)
    draft = pair.model("Draft").objects.create(title="d", editor=ada)

    if delete == "instance":
        ada.delete()
    else:
        pair.model("Person").objects.filter(pk=ada.pk).delete()

    assert pair.count(pair.people, "Person") == 0
    assert pair.count(pair.posts, "Draft", f"id = {draft.pk} AND editor_id IS NULL") == 1


@pytest.mark.parametrize("delete", ["instance", "queryset"])
@pytest.mark.parametrize(
    ("model", "error"), [("Invoice", ProtectedError), ("Badge", RestrictedError)]
)
def test_protect_and_restrict_refuse_before_anything_is_deleted(
    pair: Pair, delete: str, model: str, error: type[Exception]
) -> None:
    ada = make_author(pair)
    pair.model("Post").objects.create(title="would cascade", author=ada)
    pair.model("Draft").objects.create(title="would be nulled", editor=ada)
    fields = {"Invoice": {"customer": ada}, "Badge": {"holder": ada, "label": "b"}}[model]
    pair.model(model).objects.create(**fields)

    target = ada if delete == "instance" else pair.model("Person").objects.filter(pk=ada.pk)
    with pytest.raises(error, match=model):
        target.delete()

    assert pair.count(pair.people, "Person") == 1
    assert pair.count(pair.posts, "Post") == 1
    assert pair.count(pair.posts, "Draft", "editor_id IS NOT NULL") == 1


def test_restrict_allows_rows_that_are_deleted_anyway(pair: Pair) -> None:
    """RESTRICT (Django's rule): fine when the referencing rows go in the same delete."""
    ada = make_author(pair)
    pair.model("Badge").objects.create(holder=ada, label="b")
    pair.model("Badge").objects.filter(holder_id=ada.pk).delete()
    ada.delete()
    assert pair.count(pair.people, "Person") == 0


@pytest.mark.parametrize(
    "query",
    [
        pytest.param(lambda Post: list(Post.objects.select_related("author")), id="select_related"),
        pytest.param(lambda Post: list(Post.objects.filter(author__name="ada")), id="filter"),
    ],
)
def test_a_join_across_databases_names_both_databases_and_the_fix(pair: Pair, query: Any) -> None:
    pair.model("Post").objects.create(title="t", author=make_author(pair))
    person_table = pair.model("Person")._meta.db_table

    with pytest.raises(CrossDatabaseJoinError) as raised, transaction.atomic(using=pair.posts):
        query(pair.model("Post"))

    message = str(raised.value)
    assert f"runs on database {pair.posts!r}" in message
    assert f"{person_table} (on {pair.people!r})" in message
    assert f"relation {pair.engine}_posts.Post.author ({pair.posts})" in message
    assert "prefetch_related('author')" in message
    assert isinstance(raised.value.__cause__, Exception)  # the driver's error is kept
