"""Attacks on migrate_all's shared plan for PostgreSQL tenant databases
(django_cfg.schema.shared_plan: consecutive replays in one transaction): each tenant must still
end as Django's own ``migrate`` leaves a database.

1. Two ``migrate_all`` processes at once over the same tenants (fresh tenants, tenants with new
   migrations, a tenants' template that is behind): one migrates, the other waits
   (``schema.lock``) and finds nothing left; no row twice, no "already exists".
2. ``statement_timeout`` on a tenant database, hit by a statement of a replay batch: the batch
   is rolled back and run one by one, so the tenant ends as ``migrate`` leaves it, and the
   error names the database and the migration.
3. A non-atomic migration (``AddIndexConcurrently``: refused in a transaction) and a squashed
   migration between replayable ones, a non-atomic one failing half way: the same schema and
   rows as ``migrate``.

The reference databases are migrated by Django's ``migrate --database tenant_<name>``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.manage_py_project import write_manage_py_project
from tests.support.services import POSTGRES_URL, sibling_url
from tests.support.spec_page import user_environment
from tests.tenants.test_shared_plan import (
    PROJECT,
    _admin,
    manage,
    pg_schema,
    postgres_tenants,
)

pytestmark = pytest.mark.postgres

ROUNDS = 3


def database_name(url: str) -> str:
    return url.partition("?")[0].rpartition("/")[2]


def recreate(urls: dict[str, str], names: list[str]) -> None:
    """Empty databases again for tenants ``names``."""
    for name in names:
        _admin(f'DROP DATABASE IF EXISTS "{database_name(urls[name])}" WITH (FORCE)')
        _admin(f'CREATE DATABASE "{database_name(urls[name])}"')


def start(env: dict[str, str], *args: str, cwd: Path = PROJECT) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=cwd,
        env=user_environment({**env, "BENCH_MODE": "tenants"}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(*runs: subprocess.Popen[str]) -> list[tuple[int, str]]:
    done = []
    for run in runs:
        out, _ = run.communicate(timeout=300)
        done.append((run.returncode, out))
    return done


def together(env: dict[str, str], *commands: list[str]) -> list[tuple[int, str]]:
    """The ``manage.py`` ``commands`` started at once; (exit status, output) of each."""
    return finish(*[start(env, *command) for command in commands])


def duplicates(schema: dict[str, Any]) -> list[Any]:
    rows = schema["migrations"]
    return sorted({row for row in rows if rows.count(row) > 1})


TWO_RUNS = (
    ["migrate_all", "--parallel", "2"],
    ["migrate_all", "--tenant", "c", "--tenant", "b", "--tenant", "a"],
)


def test_two_migrate_alls_at_once_on_fresh_tenants(tmp_path: Path) -> None:
    """Fresh tenants a, b, c; two migrate_all at once (one in parallel, a to c; the other c to
    a): both succeed, and every tenant has exactly ref's schema and rows (none twice)."""
    with postgres_tenants(tmp_path) as (urls, env):
        reference = pg_schema(urls["ref"])
        for round_ in range(ROUNDS):
            if round_:
                recreate(urls, ["a", "b", "c"])
            runs = together(env, *TWO_RUNS)
            for status, out in runs:
                assert status == 0, out
                assert "already exists" not in out, out
            for name in ("a", "b", "c"):
                got = pg_schema(urls[name])
                assert not duplicates(got), (round_, name, duplicates(got))
                assert got == reference, (round_, name)


def test_two_migrate_alls_at_once_with_new_migrations(tmp_path: Path) -> None:
    """Tenants migrated, then tickets taken back to 0002 (ref too, then ref migrated again by
    Django's migrate): two migrate_all at once replay tickets 0003 and 0004 (one batch) on each
    tenant once."""
    with postgres_tenants(tmp_path) as (urls, env):
        manage(env, "migrate_all", "--noinput", "-v", "0")
        for round_ in range(ROUNDS - 1):
            for name in ("ref", "a", "b", "c"):
                manage(
                    env,
                    "migrate",
                    "--noinput",
                    "-v",
                    "0",
                    "--database",
                    f"tenant_{name}",
                    "tickets",
                    "0002",
                    mode="static",
                )
            manage(
                env, "migrate", "--noinput", "-v", "0", "--database", "tenant_ref", mode="static"
            )
            reference = pg_schema(urls["ref"])
            assert reference["migrations"][-2:] == [
                ("tickets", "0003_ticket_priority"),
                ("tickets", "0004_comment_kind"),
            ]
            runs = together(env, *TWO_RUNS)
            for status, out in runs:
                assert status == 0, out
                assert "already exists" not in out, out
            # Each tenant migrated by exactly one of the two runs.
            for name in ("a", "b", "c"):
                said = [out for _, out in runs if f"tenant_{name}: 2 applied" in out]
                assert len(said) == 1, (round_, name, runs)
                got = pg_schema(urls[name])
                assert not duplicates(got), (round_, name, duplicates(got))
                assert got == reference, (round_, name)


def _waiting_on(database: str) -> int:
    import psycopg

    from django_cfg import DatabaseConfig

    server = DatabaseConfig.from_url(POSTGRES_URL)
    with psycopg.connect(
        host=server.host, port=server.port, user=server.user, dbname="postgres", autocommit=True
    ) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
            [database],
        ).fetchone()
        return int(row[0]) if row else 0


STAMP = """
from django.db import connections
from django_cfg.tenants.clone import _server_template, _stamp_postgresql, recorded_when_migrated
template = connections["tenant__template"]
name = template.settings_dict["NAME"]
recorded = _server_template(template, name).recorded
with template._nodb_cursor() as cursor:
    _stamp_postgresql(cursor, name, recorded_when_migrated().stamp(recorded))
"""  # the stamp tenants.clone gives a template it made (its migration files' digests)


def test_two_migrate_alls_at_once_migrate_a_template_left_behind_once(tmp_path: Path) -> None:
    """The tenants' template database (tenants.clone: new tenants are copies of it) is behind
    (migrated to tickets 0002 only): migrate_all migrates it after the tenants. Two runs that
    reach it together (held at its django_migrations table until both read it) must migrate it
    once: each migration recorded once, as on ref."""
    import psycopg

    with postgres_tenants(tmp_path) as (urls, env):
        manage(env, "migrate_all", "--noinput", "-v", "0")
        template_url = urls["ref"].replace("_ref", "__template")
        template = database_name(template_url)
        _admin(f'CREATE DATABASE "{template}"')
        static = {**env, "BENCH_TENANTS": "ref,_template"}
        migrate_template = ("migrate", "--noinput", "-v", "0", "--database", "tenant__template")
        reference = pg_schema(urls["ref"])
        for round_ in range(ROUNDS - 1):
            manage(static, *migrate_template, "tickets", "0002", mode="static")
            manage(static, "shell", "-c", STAMP, mode="static")  # as create_tenant made it
            behind = pg_schema(template_url)
            assert ("tickets", "0003_ticket_priority") not in behind["migrations"]
            with psycopg.connect(template_url) as holder:
                holder.execute("LOCK TABLE django_migrations IN ACCESS EXCLUSIVE MODE")
                runs = [start(env, *command) for command in TWO_RUNS]
                for _ in range(600):  # both runs wait to read the template's rows
                    if _waiting_on(template) >= 2 or any(r.poll() is not None for r in runs):
                        break
                    time.sleep(0.1)
                waited = _waiting_on(template)
                holder.rollback()
            outs = finish(*runs)
            assert waited >= 2, outs
            for status, out in outs:
                assert status == 0, out
            got = pg_schema(template_url)
            assert not duplicates(got), (round_, duplicates(got), outs)
            assert sorted(got["migrations"]) == sorted(reference["migrations"]), outs
            for out in (out for _, out in outs):
                assert "could not be migrated" not in out, out
            said = [out for _, out in outs if "database (new tenants' copy): migrated" in out]
            assert len(said) == 1, outs


SLOW_INDEX = """
CREATE FUNCTION slow_index() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE made record;
BEGIN
  FOR made IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
    IF made.object_identity LIKE '%tickets_status_priority%' THEN
      PERFORM pg_sleep(2);
    END IF;
  END LOOP;
END $$;
CREATE EVENT TRIGGER slow_index ON ddl_command_end EXECUTE FUNCTION slow_index();
"""
"""An event trigger that makes the CREATE INDEX of tickets.0003 take 2 s."""


def test_a_statement_timeout_in_a_replay_batch_leaves_what_migrate_leaves(
    tmp_path: Path,
) -> None:
    """statement_timeout (ALTER DATABASE ... SET, 500 ms) on b and on a database migrated by
    Django's migrate (slowref), where tickets.0003's CREATE INDEX takes 2 s: on b it is part of
    a replay batch. Both fail at tickets.0003 with the same migrations applied before it; the
    error names b and the migration; with the timeout gone, a rerun finishes."""
    import psycopg

    with postgres_tenants(tmp_path) as (urls, env):
        slowref_url = urls["ref"].replace("_ref", "_slowref")
        slowref = database_name(slowref_url)
        _admin(f'CREATE DATABASE "{slowref}"')
        try:
            for url in (slowref_url, urls["b"]):
                with psycopg.connect(url, autocommit=True) as db:
                    db.execute(SLOW_INDEX)
                _admin(f"ALTER DATABASE \"{database_name(url)}\" SET statement_timeout = '500ms'")
            static = {**env, "BENCH_TENANTS": "slowref"}
            django = manage(
                static,
                "migrate",
                "--noinput",
                "--database",
                "tenant_slowref",
                mode="static",
                check=False,
            )
            assert "canceling statement due to statement timeout" in django, django
            expected = pg_schema(slowref_url)
            rows = expected["migrations"]
            assert ("tickets", "0002_comment") in rows
            assert ("tickets", "0003_ticket_priority") not in rows

            out = manage(env, "migrate_all", "--tenant", "a", "--tenant", "b", check=False)
            assert "1 of 2 databases failed to migrate; 1 migrated, 1 failed:\n  tenant_b: " in out
            assert "tenant_b: migrate failed after" in out, out
            assert "tickets.0003_ticket_priority: " in out, out
            assert "canceling statement due to statement timeout" in out, out
            got = pg_schema(urls["b"])
            assert not duplicates(got)
            assert got == expected
            assert pg_schema(urls["a"]) == pg_schema(urls["ref"])

            for url in (slowref_url, urls["b"]):
                _admin(f'ALTER DATABASE "{database_name(url)}" RESET statement_timeout')
            manage(
                static,
                "migrate",
                "--noinput",
                "-v",
                "0",
                "--database",
                "tenant_slowref",
                mode="static",
            )
            rerun = manage(env, "migrate_all", "--tenant", "a", "--tenant", "b")
            assert "tenant_a: up to date" in rerun
            assert pg_schema(urls["b"]) == pg_schema(slowref_url) == pg_schema(urls["ref"])
        finally:
            _admin(f'DROP DATABASE IF EXISTS "{slowref}" WITH (FORCE)')


NOTES_CONFIG = """\
    from pathlib import Path
    from django_cfg import DatabaseConfig, DjangoConfig, TenantsConfig

    class NotesConfig(DjangoConfig):
        base_dir = Path(__file__).resolve().parent.parent
        project_apps = ["notes"]
        databases = {{"default": DatabaseConfig.from_url("sqlite:///default.sqlite3")}}
        tenants = TenantsConfig(apps=["notes"], url="{url}", names={names!r})

    config = NotesConfig()
    """
NOTES_MODELS = """\
from django.db import models


class Note(models.Model):
    text = models.TextField()
    flag = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["text"], name="notes_text_idx"),
            models.Index(fields=["flag"], name="notes_blocked"),
        ]


class Tag(models.Model):
    name = models.TextField()
    weight = models.IntegerField(default=0)


class Label(models.Model):
    name = models.TextField()
    color = models.CharField(max_length=10, default="red")


class Extra(models.Model):
    pass
"""


def _migration(dependencies: str, operations: str, head: str = "") -> str:
    return (
        "from django.contrib.postgres.operations import AddIndexConcurrently\n"
        "from django.db import migrations, models\n\n\n"
        f"class Migration(migrations.Migration):\n{head}"
        f"    dependencies = {dependencies}\n"
        f"    operations = {operations}\n"
    )


_ID = '("id", models.BigAutoField(primary_key=True))'
NOTES_MIGRATIONS = {
    "notes/migrations/__init__.py": "",
    "notes/migrations/0001_initial.py": _migration(
        "[]",
        f'[migrations.CreateModel("Note", [{_ID}, ("text", models.TextField())])]',
        "    initial = True\n",
    ),
    "notes/migrations/0002_tag.py": _migration(
        '[("notes", "0001_initial")]',
        f'[migrations.CreateModel("Tag", [{_ID}, ("name", models.TextField())])]',
    ),
    # Refused inside a transaction: Django runs it alone, outside one (atomic = False).
    "notes/migrations/0003_concurrent.py": _migration(
        '[("notes", "0002_tag")]',
        '[AddIndexConcurrently("note", models.Index(fields=["text"], name="notes_text_idx"))]',
        "    atomic = False\n",
    ),
    "notes/migrations/0004_label.py": _migration(
        '[("notes", "0003_concurrent")]',
        f'[migrations.CreateModel("Label", [{_ID}, ("name", models.TextField())])]',
    ),
    "notes/migrations/0005_label_color.py": _migration(
        '[("notes", "0004_label")]',
        '[migrations.AddField("label", "color", models.CharField(max_length=10, default="red"))]',
    ),
    "notes/migrations/0004_squashed_0005_label_color.py": _migration(
        '[("notes", "0003_concurrent")]',
        f'[migrations.CreateModel("Label", [{_ID}, ("name", models.TextField()), '
        '("color", models.CharField(max_length=10, default="red"))])]',
        '    replaces = [("notes", "0004_label"), ("notes", "0005_label_color")]\n',
    ),
    "notes/migrations/0006_tag_weight.py": _migration(
        '[("notes", "0005_label_color")]',
        '[migrations.AddField("tag", "weight", models.IntegerField(default=0))]',
    ),
    # Non-atomic, each operation committed on its own: a failing AddIndex (b: an index of its
    # name exists) leaves notes_extra made and the migration unrecorded, as migrate leaves it.
    "notes/migrations/0007_extra.py": _migration(
        '[("notes", "0006_tag_weight")]',
        f'[migrations.CreateModel("Extra", [{_ID}]), '
        'migrations.AddField("note", "flag", models.BooleanField(default=False)), '
        'migrations.AddIndex("note", models.Index(fields=["flag"], name="notes_blocked"))]',
        "    atomic = False\n",
    ),
}


def transactions(url: str) -> dict[str, str]:
    """Each django_migrations row ('app.name') and the transaction that wrote it."""
    from tests.support.subprocess_project import server_rows

    rows = server_rows(url, "SELECT app || '.' || name, xmin::text FROM django_migrations")
    return dict(rows)


BLOCKER = "CREATE TABLE blocker (x integer); CREATE INDEX notes_blocked ON blocker (x)"


def test_non_atomic_and_squashed_migrations_between_replays(tmp_path: Path) -> None:
    """Tenants of app notes (migrations above): a and b fresh (b with an index named as
    0007's), c and d migrated to 0004_label by Django's migrate (so the squash 0004+0005 is not
    used there). migrate_all migrates a, then replays on b (and c, then replays on d): the
    non-atomic 0003 (AddIndexConcurrently) and 0007 are never in a replay transaction; every
    tenant ends as Django's migrate leaves its reference (ref, refb, refc)."""
    import psycopg

    template = sibling_url(POSTGRES_URL, f"_nt{time.time_ns() % 10**8}_{{tenant}}")
    tenants = ["a", "b", "c", "d", "ref", "refb", "refc"]
    urls = {name: template.replace("{tenant}", name) for name in tenants}
    config = NOTES_CONFIG.format(url=template, names=tenants)
    write_manage_py_project(tmp_path, config, apps={"notes": NOTES_MODELS}, files=NOTES_MIGRATIONS)

    def manage_py(*args: str, check: bool = True) -> str:
        run = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=tmp_path,
            env=user_environment(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check:
            assert run.returncode == 0, run.stdout + run.stderr
        return run.stdout + run.stderr

    try:
        for url in urls.values():
            _admin(f'CREATE DATABASE "{database_name(url)}"')
        for name in ("b", "refb"):
            with psycopg.connect(urls[name], autocommit=True) as db:
                db.execute(BLOCKER)
        manage_py("migrate", "--noinput", "-v", "0")
        manage_py("migrate", "--noinput", "-v", "0", "--database", "tenant_ref")
        failed = manage_py("migrate", "--noinput", "--database", "tenant_refb", check=False)
        assert 'relation "notes_blocked" already exists' in failed, failed
        # c, d, refc: migrated to 0004_label before the squash was written (with it, Django
        # refuses 0004_label as a target).
        squash = tmp_path / "notes/migrations/0004_squashed_0005_label_color.py"
        squash_text = squash.read_text()
        squash.unlink()
        for name in ("refc", "c", "d"):
            manage_py(
                "migrate",
                "--noinput",
                "-v",
                "0",
                "--database",
                f"tenant_{name}",
                "notes",
                "0004_label",
            )
        squash.write_text(squash_text)
        manage_py("migrate", "--noinput", "-v", "0", "--database", "tenant_refc")
        expected = {
            name: pg_schema(urls[ref])
            for name, ref in [("a", "ref"), ("b", "refb"), ("c", "refc"), ("d", "refc")]
        }
        assert ("notes", "0004_squashed_0005_label_color") in expected["a"]["migrations"]
        assert ("notes", "0004_squashed_0005_label_color") in expected["c"]["migrations"]
        assert ("notes", "0007_extra") not in expected["b"]["migrations"]
        assert ("notes_extra", "id") in {c[:2] for c in expected["b"]["columns"]}

        out = manage_py(
            "migrate_all", "-v", "2", *[f"--tenant={name}" for name in "abcd"], check=False
        )
        assert "1 of 4 databases failed to migrate; 3 migrated, 1 failed:\n  tenant_b: " in out
        assert "notes.0007_extra: " in out, out
        assert 'relation "notes_blocked" already exists' in out, out
        assert "cannot run inside a transaction block" not in out, out
        # The shared path was taken: replays batched around the non-atomic migrations.
        b = transactions(urls["b"])
        assert b["notes.0001_initial"] == b["notes.0002_tag"] != b["notes.0003_concurrent"]
        assert b["notes.0003_concurrent"] != b["notes.0004_label"]
        assert b["notes.0004_label"] == b["notes.0005_label_color"] == b["notes.0006_tag_weight"]
        d = transactions(urls["d"])
        assert d["notes.0005_label_color"] == d["notes.0006_tag_weight"]
        assert d["notes.0007_extra"] != d["notes.0006_tag_weight"]
        for name in "abcd":
            got = pg_schema(urls[name])
            assert not duplicates(got), (name, duplicates(got))
            assert got == expected[name], (name, out)
    finally:
        for url in urls.values():
            _admin(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')
