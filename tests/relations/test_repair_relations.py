"""``manage.py repair_relations`` and the delete intents, on every engine (tests/apps/crossdb).

Orphans are made as a crash, a restore or raw SQL makes them: the Person row is deleted with
raw SQL on its database, so nothing on the posts database hears of it.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from django_cfg.checks.relations import check_unfinished_deletes
from django_cfg.relations.delete_intents import pending_deletes
from tests.support.engine_pairs import PAIRS, Pair


@pytest.fixture(params=PAIRS)
def pair(request: pytest.FixtureRequest) -> Pair:
    return request.param  # type: ignore[no-any-return]


def vanish(pair: Pair, person: Any) -> None:
    """Delete ``person``'s row behind Django's back (no on_delete anywhere)."""
    table = pair.model("Person")._meta.db_table
    with connections[pair.people].cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [person.pk])


def repair(pair: Pair, *args: str) -> tuple[int, str]:
    """Run the command; the on_commit callbacks of its deletes run as if they committed."""
    out = io.StringIO()
    only = ("--database", pair.people, "--database", pair.posts)
    try:
        with (
            TestCase.captureOnCommitCallbacks(using=pair.people, execute=True),
            TestCase.captureOnCommitCallbacks(using=pair.posts, execute=True),
        ):
            call_command("repair_relations", "--grace", "0", *args, *only, stdout=out, stderr=out)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue()
    except CommandError as error:
        return error.returncode, out.getvalue() + f"CommandError: {error}"
    return 0, out.getvalue()


def make(pair: Pair, name: str, *, protected: bool = False) -> tuple[Any, Any, Any, Any]:
    person = pair.model("Person").objects.create(name=name)
    post = pair.model("Post").objects.create(title=f"by {name}", author=person)
    comment = pair.model("Comment").objects.create(text="c", post=post)
    draft = pair.model("Draft").objects.create(title="d", editor=person)
    if protected:
        pair.model("Invoice").objects.create(customer=person)
        pair.model("Badge").objects.create(holder=person, label="b")
    return person, post, comment, draft


def test_dry_run_lists_each_orphan_with_its_action_and_changes_nothing(pair: Pair) -> None:
    ada, post, _comment, draft = make(pair, "ada", protected=True)
    make(pair, "bob", protected=True)
    vanish(pair, ada)

    code, output = repair(pair, "--dry-run")

    assert code == 1
    posts = f"{pair.engine}_posts"
    assert f"{posts}.Post pk={post.pk}: author={ada.pk} names no " in output
    assert f"{posts}.Draft pk={draft.pk}: editor={ada.pk} names no " in output
    lines = output.splitlines()
    assert any(f"Post pk={post.pk}" in line and line.endswith("-> delete") for line in lines)
    assert any(f"Draft pk={draft.pk}" in line and line.endswith("-> set null") for line in lines)
    assert f"{posts}.Invoice.customer ({pair.posts}) -> " in output
    assert "1 orphan(s), left: PROTECT" in output
    assert "1 orphan(s), left: RESTRICT" in output
    assert f"names no {pair.engine}_people.Person on {pair.people!r}" in output
    assert "bob" not in output
    # Nothing changed.
    assert pair.count(pair.posts, "Post") == 2
    assert pair.count(pair.posts, "Draft", f"editor_id = {ada.pk}") == 1


def test_repair_applies_on_delete_and_leaves_protect_and_restrict(pair: Pair) -> None:
    ada, post, comment, draft = make(pair, "ada", protected=True)
    bob, bobs_post, bobs_comment, bobs_draft = make(pair, "bob")
    vanish(pair, ada)

    code, output = repair(pair, "--noinput")

    assert code == 1  # the PROTECT and RESTRICT orphans are left, and that is an error
    assert "Invoice.customer: 1 row(s) left (PROTECT" in output
    assert "Badge.holder: 1 row(s) left (RESTRICT" in output
    assert pair.count(pair.posts, "Post", f"id = {post.pk}") == 0  # CASCADE
    assert pair.count(pair.posts, "Comment", f"id = {comment.pk}") == 0  # and its own cascade
    assert pair.count(pair.posts, "Draft", f"id = {draft.pk} AND editor_id IS NULL") == 1
    assert pair.count(pair.posts, "Invoice", f"customer_id = {ada.pk}") == 1
    assert pair.count(pair.posts, "Badge", f"holder_id = {ada.pk}") == 1
    # Bob's rows are not orphans.
    assert pair.count(pair.posts, "Post", f"id = {bobs_post.pk} AND author_id = {bob.pk}") == 1
    assert pair.count(pair.posts, "Comment", f"id = {bobs_comment.pk}") == 1
    assert pair.count(pair.posts, "Draft", f"id = {bobs_draft.pk} AND editor_id = {bob.pk}") == 1

    # What is left is still listed; the repaired ones are not.
    code, output = repair(pair, "--dry-run")
    assert code == 1
    assert "Post pk=" not in output
    assert "Draft pk=" not in output
    assert "Invoice pk=" in output


def test_a_target_committed_during_the_grace_period_is_no_orphan(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A post whose author's transaction had not committed yet when the scan ran: the author
    # "commits" while the command waits (--grace), so the post is left alone.
    from django_cfg.management.commands import repair_relations

    ada, post, _comment, draft = make(pair, "ada")
    vanish(pair, ada)
    waited: list[float] = []

    def commit_the_author_meanwhile(seconds: float) -> None:
        waited.append(seconds)
        pair.model("Person").objects.create(pk=ada.pk, name="ada")

    monkeypatch.setattr(repair_relations.time, "sleep", commit_the_author_meanwhile)
    out = io.StringIO()
    only = ("--database", pair.people, "--database", pair.posts)
    call_command("repair_relations", "--noinput", "--grace", "5", *only, stdout=out, stderr=out)

    assert waited == [5.0]
    assert "checking them again in 5s" in out.getvalue()
    assert pair.count(pair.posts, "Post", f"id = {post.pk} AND author_id = {ada.pk}") == 1
    assert pair.count(pair.posts, "Draft", f"id = {draft.pk} AND editor_id = {ada.pk}") == 1


def test_repair_without_a_terminal_needs_noinput(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada, post, *_ = make(pair, "ada")
    vanish(pair, ada)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a TTY, as under cron or a pipe
    with pytest.raises(CommandError, match="pass --noinput"):
        call_command("repair_relations", "--database", pair.people, "--database", pair.posts)
    assert pair.count(pair.posts, "Post", f"id = {post.pk}") == 1  # nothing changed


def test_repair_exits_0_when_everything_was_repaired_and_then_finds_nothing(pair: Pair) -> None:
    ada, *_ = make(pair, "ada")
    vanish(pair, ada)
    code, output = repair(pair, "--noinput")
    assert code == 0, output
    assert "1 orphan(s) repaired (delete)" in output
    assert "1 orphan(s) repaired (set null)" in output
    assert repair(pair, "--dry-run") == (
        0,
        "No unfinished deletes, no orphans to repair.\n",
    )


def test_orphans_are_found_in_batches_without_a_query_per_row(pair: Pair) -> None:
    Person, Post = pair.model("Person"), pair.model("Post")
    gone, kept = [], []
    for i in range(12):
        person = Person.objects.create(name=f"p{i}")
        Post.objects.bulk_create([Post(title="t", author=person) for _ in range(5)])
        (gone if i % 2 else kept).append(person)
    for person in gone:
        vanish(pair, person)

    def queries(batch_size: int) -> tuple[int, int, str]:
        with (
            CaptureQueriesContext(connections[pair.people]) as on_people,
            CaptureQueriesContext(connections[pair.posts]) as on_posts,
        ):
            code, output = repair(pair, "--dry-run", "--batch-size", str(batch_size))
        assert code == 1
        return len(on_people), len(on_posts), output

    people_queries, posts_queries, output = queries(1000)
    assert output.count("names no") == 6 * 5  # every orphan row listed
    assert output.count(f"{pair.engine}_posts.Post.author ({pair.posts}) -> ") == 1
    # One batch: per relation, one query for the values and one on the target's database.
    relations = 4  # Post.author, Draft.editor, Invoice.customer, Badge.holder
    assert people_queries <= relations
    assert posts_queries <= relations + 1 + 1  # + the orphan rows of Post.author, + intents
    # Batches of 4 values: 12 values in 3 full batches and a last empty look; 30 rows in 8.
    people_small, _posts_small, output = queries(4)
    assert output.count("names no") == 30
    assert people_small <= people_queries + 3


def record_half_done_delete(pair: Pair) -> tuple[Any, Any, Any]:
    """What a kill -9 between the two commits leaves: the posts database committed (the post
    and its comment deleted, the draft nulled, the intent recorded), the people database not."""
    from django_cfg.models import DeleteIntent

    ada, post, comment, draft = make(pair, "ada")
    Post, Comment = pair.model("Post"), pair.model("Comment")
    DeleteIntent.objects.using(pair.posts).bulk_create(
        [
            DeleteIntent(token="t" * 32, database=db, model=model._meta.label, pks=json.dumps(pks))
            for db, model, pks in [
                (pair.people, pair.model("Person"), [ada.pk]),
                (pair.posts, Post, [post.pk]),
            ]
        ]
    )
    Comment.objects.filter(pk=comment.pk).delete()
    Post.objects.filter(pk=post.pk).delete()
    pair.model("Draft").objects.filter(pk=draft.pk).update(editor=None)
    return ada, post, draft


def test_an_unfinished_delete_is_reported_and_finished(pair: Pair) -> None:
    ada, _post, _draft = record_half_done_delete(pair)
    bob, *_ = make(pair, "bob")

    pending = pending_deletes([pair.people, pair.posts])
    assert [(p.token, p.found_on) for p in pending] == [("t" * 32, [pair.posts])]
    assert pending[0].parts[0] == (pair.people, f"{pair.engine}_people.Person", [ada.pk])
    code, output = repair(pair, "--dry-run")
    assert code == 1
    assert f"Unfinished delete {'t' * 32} started " in output
    assert f"1 {pair.engine}_people.Person on {pair.people!r}" in output
    assert pair.count(pair.people, "Person", f"id = {ada.pk}") == 1  # nothing changed

    code, output = repair(pair, "--noinput")

    assert code == 0, output
    assert f"Finished delete {'t' * 32}" in output
    assert pair.count(pair.people, "Person", f"id = {ada.pk}") == 0  # rolled forward
    assert pair.count(pair.people, "Person", f"id = {bob.pk}") == 1
    assert pending_deletes([pair.people, pair.posts]) == []
    assert repair(pair, "--dry-run")[0] == 0


def test_an_unfinished_delete_whose_origin_committed_repairs_what_references_it(
    pair: Pair,
) -> None:
    """The other way round (an outer transaction on the posts database rolled back): the
    person is gone, their posts are not."""
    from django_cfg.models import DeleteIntent

    ada, post, comment, draft = make(pair, "ada")
    DeleteIntent.objects.using(pair.people).create(
        token="u" * 32,
        database=pair.people,
        model=pair.model("Person")._meta.label,
        pks=json.dumps([ada.pk]),
    )
    vanish(pair, ada)

    code, output = repair(pair, "--noinput")

    assert code == 0, output
    assert pair.count(pair.posts, "Post", f"id = {post.pk}") == 0
    assert pair.count(pair.posts, "Comment", f"id = {comment.pk}") == 0
    assert pair.count(pair.posts, "Draft", f"id = {draft.pk} AND editor_id IS NULL") == 1
    assert pending_deletes([pair.people, pair.posts]) == []


def test_the_system_check_reports_unfinished_deletes_a_minute_old(pair: Pair) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from django_cfg.models import DeleteIntent

    record_half_done_delete(pair)
    assert check_unfinished_deletes(databases=[pair.posts]) == []  # may still be committing
    DeleteIntent.objects.using(pair.posts).update(created=timezone.now() - timedelta(minutes=2))
    messages = check_unfinished_deletes(databases=[pair.posts])
    assert [m.id for m in messages] == ["django_cfg.W050"]
    assert f"recorded on {pair.posts!r}" in messages[0].msg
    assert "repair_relations" in (messages[0].hint or "")
    assert check_unfinished_deletes(databases=[pair.people]) == []


def test_a_delete_leaves_no_intent_once_every_database_committed(pair: Pair) -> None:
    """In a test transaction nothing commits: the intents stay until the on_commit callbacks
    run, which captureOnCommitCallbacks does here."""
    from django_cfg.models import DeleteIntent

    ada, *_ = make(pair, "ada")
    with (
        TestCase.captureOnCommitCallbacks(using=pair.people, execute=True),
        TestCase.captureOnCommitCallbacks(using=pair.posts, execute=True),
    ):
        ada.delete()
        recorded = {
            db: list(DeleteIntent.objects.using(db).values_list("database", "model"))
            for db in (pair.people, pair.posts)
        }
    expected = sorted(
        [
            (pair.people, f"{pair.engine}_people.Person"),
            (pair.posts, f"{pair.engine}_posts.Post"),
        ]
    )
    assert {db: sorted(rows) for db, rows in recorded.items()} == {
        pair.people: expected,
        pair.posts: expected,
    }
    assert DeleteIntent.objects.using(pair.people).count() == 0
    assert DeleteIntent.objects.using(pair.posts).count() == 0


def test_the_intents_table_is_on_every_database_that_takes_migrations() -> None:
    from django.db import router

    model = apps.get_model("django_cfg", "DeleteIntent")
    assert router.allow_migrate_model("sqlite_blog", model)
    assert router.allow_migrate_model("postgres_blog", model)
    assert not router.allow_migrate_model("replica", model)
    assert not router.allow_migrate_model("analytics", model)


@pytest.mark.django_db(databases=["default", "sqlite_blog"], transaction=True)
def test_a_database_without_the_intents_table_refuses_the_delete_before_any_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django_cfg.runtime.runtime import current_runtime

    pair = Pair("lite", "default", "sqlite_blog")
    ada, post, _comment, draft = make(pair, "ada")
    table = "django_cfg_deleteintent"
    with connections["sqlite_blog"].cursor() as cursor:  # kept, then put back
        cursor.execute(f"ALTER TABLE {table} RENAME TO kept_{table}")
    monkeypatch.setattr(current_runtime(), "intent_tables", set())
    try:
        refused_without_change(pair, ada, post, draft)
    finally:
        with connections["sqlite_blog"].cursor() as cursor:
            cursor.execute(f"ALTER TABLE kept_{table} RENAME TO {table}")


def refused_without_change(pair: Pair, ada: Any, post: Any, draft: Any) -> None:
    from django_cfg.relations.delete_intents import DeleteIntentTableMissing

    with pytest.raises(DeleteIntentTableMissing, match="'sqlite_blog' has no table") as raised:
        ada.delete()

    assert "manage.py migrate_all" in str(raised.value)
    assert pair.count(pair.people, "Person", f"id = {ada.pk}") == 1
    assert pair.count(pair.posts, "Post", f"id = {post.pk}") == 1
    assert pair.count(pair.posts, "Draft", f"id = {draft.pk} AND editor_id = {ada.pk}") == 1
