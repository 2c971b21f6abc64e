"""kill -9 in cross-database deletes, then recovery: run by tests/relations/test_delete_crashes.py.

    python -m tests.support.delete_crash_driver --people URL --posts URL --rounds 24 --seed 1 \
        [--race 3]

Sets up Django on two databases (people on one, their posts on the other: the
``tests.apps.crossdb.lite_*`` apps), then each round:

1. writes a person with ``--posts`` posts (CASCADE), a comment on each (cascades from the post,
   on the posts database), ``--drafts`` drafts (SET_NULL), and a bystander with their own posts;
2. forks a child that runs ``person.delete()`` and is killed with SIGKILL, either by itself at an
   instrumented point (before a SQL statement, or before or after a COMMIT: the rounds walk the
   points in a shuffled order), or by this process after a random delay;
3. classifies the state the kill left: the person and everything pointing at them intact, or the
   person gone and nothing pointing at them, or anything else (half done); and whether the
   damage is *detected*: an unfinished delete recorded, or ``repair_relations --dry-run``
   exiting 1;
4. runs ``repair_relations`` and checks the state is consistent: the person gone and clean if
   anything was pending or half done, intact otherwise; the bystander untouched.

With ``--race N`` it then runs N trials of the insert race: a post is inserted (committed, on
another connection) for a person after the delete collected their rows and before it deletes;
the post must end as an orphan that ``repair_relations --dry-run`` lists and the repair deletes.

Prints one JSON object: counts of each state, undetected half-done states, repair failures.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any


def configure(people: str, posts: str, base_dir: Path) -> None:
    import django
    from django.conf import settings

    from django_cfg import DatabaseConfig, DjangoConfig

    class CrashConfig(DjangoConfig):
        project_name: str = "delete crashes"
        contrib_apps: list[str] = []  # nothing to migrate but the django_cfg intents table
        project_apps: list[str] = [
            "tests.apps.crossdb.lite_people",
            "tests.apps.crossdb.lite_posts",
        ]
        databases: dict[str, DatabaseConfig] = {
            "default": DatabaseConfig.from_url(people, apps=["lite_people"]),
            "posts": DatabaseConfig.from_url(posts, apps=["lite_posts"]),
        }

    config = CrashConfig(base_dir=base_dir, secret_key="crash-driver-" + "k" * 50)
    settings.configure(**config.get_all_settings())
    django.setup()


def models() -> tuple[Any, Any, Any, Any]:
    from django.apps import apps

    return (
        apps.get_model("lite_people", "Person"),
        apps.get_model("lite_posts", "Post"),
        apps.get_model("lite_posts", "Comment"),
        apps.get_model("lite_posts", "Draft"),
    )


def count(alias: str, model: Any, where: str = "1 = 1") -> int:
    from django.db import connections

    with connections[alias].cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {model._meta.db_table} WHERE {where}")
        return int(cursor.fetchone()[0])


def migrate() -> None:
    from django.core.management import call_command

    for alias in ("default", "posts"):
        call_command("migrate", database=alias, run_syncdb=True, verbosity=0)


def reset(n_posts: int, n_drafts: int) -> tuple[int, int]:
    """Fresh rows; the person to delete and the bystander's pk."""
    from django.apps import apps

    person, post, comment, draft = models()
    intent = apps.get_model("django_cfg", "DeleteIntent")
    for model in (comment, post, draft):
        model._base_manager.using("posts").all()._raw_delete("posts")
    person._base_manager.using("default").all()._raw_delete("default")
    for alias in ("default", "posts"):
        intent._base_manager.using(alias).all()._raw_delete(alias)
    ada = person.objects.create(name="ada")
    bob = person.objects.create(name="bob")
    posts = post.objects.bulk_create(
        [post(title=f"p{i}", author=ada) for i in range(n_posts)]
        + [post(title=f"b{i}", author=bob) for i in range(3)]
    )
    if any(p.pk is None for p in posts):  # MariaDB's bulk_create sets no pks
        posts = list(post.objects.order_by("pk"))
    comment.objects.bulk_create([comment(text="c", post=p) for p in posts])
    draft.objects.bulk_create(
        [draft(title=f"d{i}", editor=ada) for i in range(n_drafts)]
        + [draft(title="bob's", editor=bob)]
    )
    return ada.pk, bob.pk


def state(pk: int, bob: int, n_posts: int, n_drafts: int) -> str:
    person, post, comment, draft = models()
    alive = count("default", person, f"id = {pk}")
    posts = count("posts", post, f"author_id = {pk}")
    comments = count("posts", comment) - count(
        "posts",
        comment,
        f"post_id IN (SELECT id FROM {post._meta.db_table} WHERE author_id = {bob})",
    )
    drafts = count("posts", draft, f"editor_id = {pk}")
    all_drafts = count("posts", draft)
    bystander = (
        count("default", person, f"id = {bob}"),
        count("posts", post, f"author_id = {bob}"),
        count("posts", draft, f"editor_id = {bob}"),
    )
    if bystander != (1, 3, 1) or all_drafts != n_drafts + 1:
        return "damaged bystander"
    if alive and (posts, comments, drafts) == (n_posts, n_posts, n_drafts):
        return "intact"
    if not alive and (posts, comments, drafts) == (0, 0, 0):
        return "deleted"
    return "half done"


def repair(*args: str) -> tuple[int, str]:
    from django.core.management import call_command

    out = io.StringIO()
    try:
        call_command("repair_relations", "--grace", "0", *args, stdout=out, stderr=out)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue()
    return 0, out.getvalue()


def instrument(kill_at: str | None) -> list[str]:
    """Record events (SQL statements, commits) on every connection; SIGKILL at ``kill_at``
    (an event's name and occurrence: ``posts: after COMMIT #1``)."""
    from django.db import connections

    events: list[str] = []

    def event(what: str) -> None:
        events.append(what)
        numbered = f"{what} #{sum(e == what for e in events)}"
        if numbered == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    for alias in ("default", "posts"):
        connection = connections[alias]

        def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any, a=alias) -> Any:
            event(f"{a}: {sql.split(maxsplit=1)[0]}")
            return execute(sql, params, many, context)

        connection.execute_wrappers.append(wrapper)
        commit = connection.commit

        def committing(commit: Any = commit, a: str = alias) -> None:
            event(f"{a}: before COMMIT")
            commit()
            event(f"{a}: after COMMIT")

        connection.commit = committing  # type: ignore[method-assign]
    return events


def delete_in_child(pk: int, kill_at: str | None, ready: int) -> None:
    """In the forked child: delete the person; never returns."""
    person = models()[0]
    try:
        target = person.objects.get(pk=pk)
        events = instrument(kill_at)
        os.write(ready, b"1")
        target.delete()
        os.write(ready, json.dumps(events).encode())
        os._exit(0)
    except BaseException:
        import traceback

        traceback.print_exc()
        os._exit(3)


def run_round(pk: int, kill_at: str | None, delay: float | None) -> tuple[str, list[str]]:
    """Fork a child deleting ``pk``; returns how it ended and its events (when it finished)."""
    from django.db import connections

    connections.close_all()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read)
        delete_in_child(pk, kill_at, write)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        pipe.read(1)  # the child is about to delete
        if delay is not None:
            time.sleep(delay)
            with contextlib.suppress(ProcessLookupError):  # it finished first
                os.kill(child, signal.SIGKILL)
        rest = pipe.read()
    _, status = os.waitpid(child, 0)
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
        wait_for_sessions_to_end()
        return "killed", []
    if os.WEXITSTATUS(status) != 0:
        raise SystemExit(f"the deleting child failed (status {status})")
    return "finished", json.loads(rest or b"[]")


# Another session on the database, seen from this one (each engine's own).
OTHER_SESSIONS = {
    "postgresql": "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()",
    "mysql": "SELECT count(*) FROM information_schema.processlist "
    "WHERE db = DATABASE() AND id <> CONNECTION_ID()",
}


def wait_for_sessions_to_end(seconds: float = 10.0) -> None:
    """Until the killed child's server sessions are gone. A COMMIT the child sent just before
    SIGKILL still completes on the server after the child is dead: a state read before that
    would miss what it commits (seen: an intent read as not there, then finished by the
    repair). SQLite: nothing to wait for, the writer was the child."""
    from django.db import connections

    deadline = time.monotonic() + seconds
    for alias in ("default", "posts"):
        sql = OTHER_SESSIONS.get(connections[alias].vendor)
        while sql is not None and time.monotonic() < deadline:
            with connections[alias].cursor() as cursor:
                cursor.execute(sql)
                if not cursor.fetchone()[0]:
                    break
            time.sleep(0.02)
    connections.close_all()  # as the next round's fork expects


def crash_rounds(args: argparse.Namespace) -> dict[str, Any]:
    from django_cfg.relations.delete_intents import pending_deletes

    rng = random.Random(args.seed)
    pending_deletes()  # reads the intents table: the children inherit that it exists
    pk, bob = reset(args.posts, args.drafts)
    started = time.perf_counter()
    ended, events = run_round(pk, None, None)  # a full delete: how many points, how long
    duration = time.perf_counter() - started
    assert ended == "finished", ended
    # The points around COMMITs first (where the databases part ways), then the rest shuffled.
    points = [f"{e} #{events[: i + 1].count(e)}" for i, e in enumerate(events)]
    rng.shuffle(points)
    points.sort(key=lambda point: "COMMIT" not in point)
    result: dict[str, Any] = {
        "kill_points": len(points),
        "points": points,
        "rounds": 0,
        "killed": 0,
        "states": Counter(),
        "detected": Counter(),
        "seen": [],
        "undetected_half_done": 0,
        "repair_failures": [],
    }
    for round_ in range(args.rounds):
        pk, bob = reset(args.posts, args.drafts)
        if round_ % 3 == 2:  # every third round: a kill from outside after a random delay
            ended, _ = run_round(pk, None, rng.uniform(0, duration))
            how = "timer"
        else:
            how = points[(round_ - round_ // 3) % len(points)]
            ended, _ = run_round(pk, how, None)
        result["rounds"] += 1
        result["killed"] += ended == "killed"
        before = state(pk, bob, args.posts, args.drafts)
        pending = pending_deletes()
        dry_code, _ = repair("--dry-run")
        detected = bool(pending) or dry_code == 1
        result["states"][before] += 1
        result["seen"].append(
            f"{how}: {ended}, {before}, {len(pending)} pending, dry-run {dry_code}"
        )
        result["detected"][f"{before}, {'detected' if detected else 'not detected'}"] += 1
        if before not in {"intact", "deleted"} and not detected:
            result["undetected_half_done"] += 1
        code, output = repair("--noinput")
        after = state(pk, bob, args.posts, args.drafts)
        expected = "intact" if before == "intact" and not pending else "deleted"
        clean = repair("--dry-run")[0] == 0 and not pending_deletes()
        if code != 0 or after != expected or not clean:
            result["repair_failures"].append(
                {
                    "round": round_,
                    "how": how,
                    "before": before,
                    "after": after,
                    "pending": len(pending),
                    "code": code,
                    "output": output[-2000:],
                }
            )
    return result


def race_trials(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connections

    from django_cfg.relations.collector import CrossDatabaseCollector

    person, post, comment, _draft = models()
    result: dict[str, Any] = {"trials": 0, "orphans": 0, "listed": 0, "repaired": 0}
    for _ in range(args.race):
        pk, _bob = reset(10, 0)
        target = person.objects.get(pk=pk)
        collector = CrossDatabaseCollector(using="default", origin=target)
        collector.collect([target])
        inserted: list[int] = []

        def insert(pk: int = pk, inserted: list[int] = inserted) -> None:
            # On another connection (another thread): what a concurrent request does.
            new = post.objects.create(title="late", author_id=pk)
            comment.objects.create(text="on late", post=new)
            inserted.append(new.pk)
            connections.close_all()

        thread = threading.Thread(target=insert)
        thread.start()
        thread.join()
        collector.delete()
        result["trials"] += 1
        orphans = count("posts", post, f"author_id = {pk}")
        result["orphans"] += orphans
        code, output = repair("--dry-run")
        if code == 1 and f"pk={inserted[0]}: author={pk} names no" in output:
            result["listed"] += 1
        repair("--noinput")
        if (
            count("posts", post, f"author_id = {pk}") == 0
            and count("posts", comment, f"post_id = {inserted[0]}") == 0
            and repair("--dry-run")[0] == 0
        ):
            result["repaired"] += 1
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", required=True)
    parser.add_argument("--posts-url", required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--rounds", type=int, default=24)
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument("--drafts", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--race", type=int, default=0)
    parser.add_argument("--without-intents", action="store_true")
    args = parser.parse_args()
    configure(args.people, args.posts_url, Path(args.dir))
    migrate()
    if args.without_intents:  # the control: the protocol off, to show what the rounds catch
        from django_cfg.relations import delete_intents

        inactive = delete_intents.RecordedDelete("", [], [], active=False)
        delete_intents.record_delete = lambda *args: inactive  # type: ignore[assignment]
    report = {"crashes": crash_rounds(args)}
    if args.race:
        report["race"] = race_trials(args)
    json.dump(report, sys.stdout, default=dict)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
