"""migrate_all migrates tenants from one shared plan (django_cfg.schema.shared_plan): each tenant
must end exactly as Django's own ``migrate --database`` leaves a database, on SQLite files and
PostgreSQL databases, also when a migration fails half way and the run is repeated.

The project is benchmarks/tenant_project (three tenant apps, 13 migrations: foreign keys,
indexes, a many-to-many, table rebuilds, RunPython, a one-off default). The reference tenant
``ref`` is migrated by Django's ``migrate --database tenant_ref`` with the tenants listed as fixed
aliases (BENCH_MODE=static); the others by ``migrate_all`` (TenantsConfig).
"""

from __future__ import annotations

import os
import random
import re
import secrets
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.killed_migrate_all import kill_migrate_all
from tests.support.manage_py_project import write_manage_py_project
from tests.support.services import POSTGRES_URL, sibling_url
from tests.support.spec_page import run_process, run_python
from tests.tenants.project_support import ROOT, server_rows

PROJECT = ROOT / "benchmarks" / "tenant_project"
TENANTS = ["ref", "a", "b", "c"]


def manage(env: dict[str, str], *args: str, mode: str = "tenants", check: bool = True) -> str:
    return run_python("manage.py", *args, cwd=PROJECT, env={**env, "BENCH_MODE": mode}, check=check)


def sqlite_env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "tenants").mkdir()
    return {
        "DJANGO_SETTINGS_MODULE": "settings",
        "BENCH_DIR": str(tmp_path),
        "BENCH_DEFAULT_URL": "sqlite:///default.sqlite3",
        "BENCH_TENANT_URL": "sqlite:///tenants/{tenant}.sqlite3",
        "BENCH_TENANTS": ",".join(TENANTS),
    }


def sqlite_schema(path: Path) -> dict[str, Any]:
    with closing(sqlite3.connect(path)) as db:
        objects = db.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
        rows = db.execute("SELECT app, name FROM django_migrations ORDER BY id").fetchall()
    return {"objects": objects, "migrations": rows}


def test_sqlite_tenants_end_as_djangos_migrate_leaves_them(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path)
    manage(env, "migrate", "--noinput", "-v", "0", mode="static")
    manage(env, "migrate", "--noinput", "-v", "0", "--database", "tenant_ref", mode="static")
    out = manage(env, "migrate_all", "--parallel", "2")
    assert "tenant_ref: up to date" in out
    for name in ("a", "b", "c"):
        assert (
            f"tenant_{name}: 13 applied: billing (4), crm (4), django_cfg (1), tickets (4)" in out
        )
    reference = sqlite_schema(tmp_path / "tenants" / "ref.sqlite3")
    assert ("table", "tickets_ticket_labels") in {o[:2] for o in reference["objects"]}
    assert ("crm", "0004_lowercase_domains") in reference["migrations"]
    for name in ("a", "b", "c"):
        ours = sqlite_schema(tmp_path / "tenants" / f"{name}.sqlite3")
        assert ours["objects"] == reference["objects"], name
        # The same rows in the same order (plan order), migrations of other apps included.
        assert ours["migrations"] == reference["migrations"], name


def test_a_failing_migration_leaves_what_migrate_leaves_and_a_rerun_finishes(
    tmp_path: Path,
) -> None:
    env = sqlite_env(tmp_path)
    manage(env, "migrate", "--noinput", "-v", "0", mode="static")
    # tickets.0003 adds the index tickets_status_priority: an index of that name already
    # exists in tenant b and in ref, so that migration fails there.
    for name in ("ref", "b"):
        with closing(sqlite3.connect(tmp_path / "tenants" / f"{name}.sqlite3")) as db:
            db.execute("CREATE TABLE blocker (x integer)")
            db.execute("CREATE INDEX tickets_status_priority ON blocker (x)")
    failed = manage(
        env, "migrate", "--noinput", "--database", "tenant_ref", mode="static", check=False
    )
    assert "index tickets_status_priority already exists" in failed
    out = manage(env, "migrate_all", "--tenant", "a", "--tenant", "b", "--tenant", "c", check=False)
    assert "1 of 3 databases failed to migrate; 2 migrated, 1 failed:\n  tenant_b: " in out
    # The failing migration named (the ones before it were applied and kept).
    assert re.search(
        r"tenant_b: migrate failed after [0-9.]+s: tickets\.0003_ticket_priority: ", out
    )
    assert "index tickets_status_priority already exists" in out
    reference = sqlite_schema(tmp_path / "tenants" / "ref.sqlite3")
    broken = sqlite_schema(tmp_path / "tenants" / "b.sqlite3")
    assert ("tickets", "0002_comment") in reference["migrations"]
    assert ("tickets", "0003_ticket_priority") not in reference["migrations"]
    assert broken == reference  # what succeeded before the failure is kept, as by migrate

    for name in ("ref", "b"):
        with closing(sqlite3.connect(tmp_path / "tenants" / f"{name}.sqlite3")) as db:
            db.execute("DROP TABLE blocker")
    manage(env, "migrate", "--noinput", "-v", "0", "--database", "tenant_ref", mode="static")
    rerun = manage(env, "migrate_all", "--tenant", "a", "--tenant", "b")
    assert "tenant_a: up to date" in rerun
    assert "tenant_b: 2 applied: tickets.0003_ticket_priority, tickets.0004_comment_kind" in rerun
    done = sqlite_schema(tmp_path / "tenants" / "b.sqlite3")
    assert done == sqlite_schema(tmp_path / "tenants" / "ref.sqlite3")


def test_a_run_killed_at_random_points_is_finished_by_the_next(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path)
    manage(env, "migrate", "--noinput", "-v", "0", mode="static")
    manage(env, "migrate", "--noinput", "-v", "0", "--database", "tenant_ref", mode="static")
    reference = sqlite_schema(tmp_path / "tenants" / "ref.sqlite3")
    rng = random.Random(f"tenants-kill-{os.getpid()}")
    for _ in range(2):
        for name in ("a", "b", "c"):
            for leftover in (tmp_path / "tenants").glob(f"{name}.sqlite3*"):
                leftover.unlink()
        tenants = {**env, "BENCH_MODE": "tenants"}
        kill_migrate_all(PROJECT, tenants, rng, migrations=3 * 13, max_pause=0.05)
        manage(env, "migrate_all", "--noinput")  # exit status 0: nothing left half done
        for name in ("a", "b", "c"):
            assert sqlite_schema(tmp_path / "tenants" / f"{name}.sqlite3") == reference, name


def pg_schema(url: str) -> dict[str, Any]:
    columns = server_rows(
        url,
        "SELECT table_name, column_name, data_type, is_nullable, column_default, "
        "character_maximum_length, numeric_precision, numeric_scale "
        "FROM information_schema.columns WHERE table_schema = 'public' "
        "ORDER BY table_name, column_name",
    )
    indexes = server_rows(
        url, "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"
    )
    constraints = server_rows(
        url,
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), condeferrable "
        "FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2",
    )
    migrations = server_rows(url, "SELECT app, name FROM django_migrations ORDER BY id")
    return {
        "columns": columns,
        "indexes": indexes,
        "constraints": constraints,
        "migrations": migrations,
    }


def _admin(sql: str) -> None:
    import psycopg

    from django_cfg import DatabaseConfig

    server = DatabaseConfig.from_url(POSTGRES_URL)
    with psycopg.connect(
        host=server.host, port=server.port, user=server.user, dbname="postgres", autocommit=True
    ) as admin:
        admin.execute(sql)  # type: ignore[arg-type]


@contextmanager
def postgres_tenants(tmp_path: Path) -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    """(tenant -> URL, the project's environment): an empty PostgreSQL database per tenant,
    ``default`` and ``tenant_ref`` migrated by Django's ``migrate``; the databases dropped after."""
    template = sibling_url(POSTGRES_URL, f"_sp{secrets.token_hex(3)}_{{tenant}}")
    urls = {name: template.replace("{tenant}", name) for name in TENANTS}
    names = {name: url.partition("?")[0].rpartition("/")[2] for name, url in urls.items()}
    env = {**sqlite_env(tmp_path), "BENCH_TENANT_URL": template}
    try:
        for database in names.values():
            _admin(f'CREATE DATABASE "{database}"')
        manage(env, "migrate", "--noinput", "-v", "0", mode="static")
        manage(env, "migrate", "--noinput", "-v", "0", "--database", "tenant_ref", mode="static")
        yield urls, env
    finally:
        for database in names.values():
            _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.mark.postgres
def test_postgresql_tenants_end_as_djangos_migrate_leaves_them(tmp_path: Path) -> None:
    with postgres_tenants(tmp_path) as (urls, env):
        out = manage(env, "migrate_all", "--parallel", "2")
        for name in ("a", "b", "c"):
            assert f"tenant_{name}: 13 applied" in out
        reference = pg_schema(urls["ref"])
        assert ("tickets_ticket_labels", "ticket_id") in {c[:2] for c in reference["columns"]}
        assert any("tickets_status_priority" in i[0] for i in reference["indexes"])
        for name in ("a", "b", "c"):
            assert pg_schema(urls[name]) == reference, name
        again = manage(env, "migrate_all", "--check")
        assert "tenant_c: up to date" in again


# Migrates tenant a (its SQL recorded), then b (replayed) from one SharedPlans, each statement
# sent logged; then asks replay_key about operations that must never be replayed.
REPLAY_SCRIPT = r"""
import io, json
import django
django.setup()
from django.db import connections, migrations, models
from django.utils import timezone
from django_cfg.schema.replay import replay_key
from django_cfg.schema.shared_plan import SharedPlans

plans = SharedPlans()


def migrate(alias):
    connection, sent = connections[alias], []

    def log(execute, sql, params, many, context):
        sent.append(str(sql))
        return execute(sql, params, many, context)

    # Named as django_cfg's own: a wrapper of another module turns the replay off (see "foreign
    # wrapper" below), as it may change statements per database; this one only logs them.
    log.__module__ = "django_cfg.tests_log"

    plan = plans.plan_for(connection)
    with connection.execute_wrapper(log):
        plans.apply(connection, plan, 0, io.StringIO())
    return plan, sent


plan, first = migrate("tenant_a")
again, second = migrate("tenant_b")
# A post_save receiver of the rows: on c (replayed too) it gets every row's save, as in migrate.
from django.db.migrations.recorder import MigrationRecorder
from django.db.models.signals import post_save
saved = []
post_save.connect(lambda instance, **kw: saved.append(instance.name), MigrationRecorder.Migration)
migrate("tenant_c")
operations = {
    "callable default": migrations.AddField(
        "company", "x", models.DateTimeField(default=timezone.now)
    ),
    "auto_now_add": migrations.AddField("company", "y", models.DateTimeField(auto_now_add=True)),
    "literal default": migrations.AddField("company", "z", models.IntegerField(default=0)),
    "AlterField": migrations.AlterField("company", "name", models.CharField(max_length=300)),
    "RunPython": migrations.RunPython(migrations.RunPython.noop),
}


class SealedField(models.TextField):  # the project's: it may prepare values per connection
    def get_db_prep_save(self, value, connection):
        return f"sealed-for-{connection.alias}:{value}"


operations["project field"] = migrations.AddField("company", "s", SealedField(default="s"))
class Lowered(models.Func):  # the project's expression: it may render per connection
    function = "LOWER"


operations["project index"] = migrations.AddIndex(
    "company", models.Index(Lowered(models.F("name")), name="crm_lower")
)
operations["Django's index"] = migrations.AddIndex(
    "company", models.Index(models.Func(models.F("name"), function="LOWER"), name="crm_lower")
)


def foreign(execute, sql, params, many, context):
    return execute(sql, params, many, context)


def key_of(alias, operation):
    migration = migrations.Migration("0099_check", "crm")
    migration.operations = [operation]
    state = plan.end.clone()
    operation.state_forwards("crm", state)
    key = replay_key(connections[alias], migration, [(operation, plan.end, state)])
    return "never" if key is None else "SQL" if key[3] else "if silent"


keys = {}
for label, operation in operations.items():
    for alias in ("tenant_a", "default"):
        keys[f"{label} on {alias}"] = key_of(alias, operation)
with connections["tenant_a"].execute_wrapper(foreign):
    keys["foreign wrapper"] = key_of("tenant_a", operations["literal default"])


def transactions(alias):  # each django_migrations row, and the transaction that wrote it
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT app || '.' || name, xmin::text FROM django_migrations ORDER BY id")
        return cursor.fetchall()


print(json.dumps({
    "same plan": again is plan,
    "transactions": {alias: transactions(alias) for alias in ("tenant_a", "tenant_b", "tenant_c")},
    "recorded": {f"{key[0]}.{key[1]}": len(sql) for key, sql in plan.recordings.items()},
    "first": first, "second": second, "keys": keys, "saved on c": len(saved),
    "rows on c": MigrationRecorder(connections["tenant_c"]).migration_qs.count(),
}))
"""


@pytest.mark.postgres
def test_replayed_postgresql_tenants_end_as_djangos_migrate_leaves_them(tmp_path: Path) -> None:
    """A migration of CreateModel / AddField / AddIndex / AddConstraint is replayed on the
    second database (its statements and its row in one message, no database_forwards), one
    whose operations the router kept from running anything as rows only; the RunPython and
    AlterField migrations run as before; both databases end as Django's migrate leaves one
    ("if silent": replayed only when the first database ran no SQL for it)."""
    import json

    with postgres_tenants(tmp_path) as (urls, env):
        out = run_python("-c", REPLAY_SCRIPT, cwd=PROJECT, env={**env, "BENCH_MODE": "tenants"})
        got = json.loads(out.strip().splitlines()[-1])
        assert got["same plan"]
        recorded = got["recorded"]
        assert recorded["crm.0001_initial"] >= 2  # two CREATE TABLE, then an index and a FK
        assert recorded["tickets.0004_comment_kind"] == 2  # ADD COLUMN, DROP DEFAULT
        # auth's tables live in default: its AlterField runs nothing on a tenant, replayed so.
        assert recorded["auth.0002_alter_permission_name_max_length"] == 0
        assert "crm.0004_lowercase_domains" not in recorded  # RunPython, AlterField
        assert "billing.0004_invoice_total_digits" not in recorded  # AlterField that ran SQL
        first, second = got["first"], got["second"]
        assert 'CREATE TABLE "crm_company" (' in "\n".join(first)
        assert len(second) < len(first)
        # Replayed: crm 0001's DDL and its row went as one statement on b, not on a.
        one = [s for s in second if 'CREATE TABLE "crm_company" (' in s]
        assert len(one) == 1, one
        assert "'crm', '0001_initial'" in one[0]
        assert not any('CREATE TABLE "crm_company" (' in s and "INSERT" in s for s in first)
        # Not replayed: AlterField's statement alone, RunPython's query of the table it reads.
        for sent in (first, second):
            assert any(
                s.startswith('ALTER TABLE "crm_company" ALTER COLUMN "domain"') for s in sent
            )
            assert any(s.startswith('SELECT "crm_company"."id"') for s in sent)
        assert got["keys"] == {
            "callable default on tenant_a": "if silent",
            "callable default on default": "never",  # SQLite: never replayed
            "auto_now_add on tenant_a": "if silent",
            "auto_now_add on default": "never",
            "literal default on tenant_a": "SQL",
            "literal default on default": "never",
            "AlterField on tenant_a": "if silent",
            "AlterField on default": "never",
            "RunPython on tenant_a": "never",
            "RunPython on default": "never",
            "project field on tenant_a": "never",  # its SQL may differ per database
            "project field on default": "never",
            "project index on tenant_a": "never",  # an expression of the project's
            "project index on default": "never",
            "Django's index on tenant_a": "SQL",
            "Django's index on default": "never",
            "foreign wrapper": "never",
        }
        # a (recording) committed each migration on its own, as migrate does; b (replaying) each
        # run of consecutive replays in one transaction, each other migration in its own; c
        # (replaying, rows saved through the ORM for the receiver) each on its own.
        runs: list[list[str]] = []
        for row, _xact in got["transactions"]["tenant_b"]:
            if runs and row in recorded and runs[-1][-1] in recorded:
                runs[-1].append(row)
            else:
                runs.append([row])
        assert any(len(run) >= 5 for run in runs), runs
        for alias, expected in [("tenant_a", None), ("tenant_b", runs), ("tenant_c", None)]:
            rows = got["transactions"][alias]
            by_xact: dict[str, list[str]] = {}
            for row, xact in rows:
                by_xact.setdefault(xact, []).append(row)
            assert list(by_xact.values()) == (expected or [[row] for row, _ in rows]), alias
        reference = pg_schema(urls["ref"])
        # c was replayed with a post_save receiver listening: each row saved through the ORM.
        assert got["saved on c"] == got["rows on c"] == len(reference["migrations"])
        for name in ("a", "b", "c"):
            assert pg_schema(urls[name]) == reference, name


@pytest.mark.postgres
def test_a_failing_replay_leaves_what_migrate_leaves_and_a_rerun_finishes(tmp_path: Path) -> None:
    """On b, tickets.0003 is replayed in one transaction with the replays before it, and fails
    there (an index of its name exists): that transaction is rolled back and its migrations
    run one by one, so the ones before tickets.0003 stay applied, as migrate leaves them."""
    import psycopg

    with postgres_tenants(tmp_path) as (urls, env):
        with psycopg.connect(urls["b"], autocommit=True) as b:
            b.execute("CREATE TABLE blocker (x integer)")
            b.execute("CREATE INDEX tickets_status_priority ON blocker (x)")
        out = manage(env, "migrate_all", "--tenant", "a", "--tenant", "b", check=False)
        assert "1 of 2 databases failed to migrate; 1 migrated, 1 failed:\n  tenant_b: " in out
        assert re.search(
            r"tenant_b: migrate failed after [0-9.]+s: tickets\.0003_ticket_priority: ", out
        )
        assert 'relation "tickets_status_priority" already exists' in out
        reference = pg_schema(urls["ref"])
        rows = reference["migrations"]
        before = rows[: rows.index(("tickets", "0003_ticket_priority"))]
        assert ("tickets", "0002_comment") in before
        assert pg_schema(urls["b"])["migrations"] == before
        assert pg_schema(urls["a"]) == reference

        with psycopg.connect(urls["b"], autocommit=True) as b:
            b.execute("DROP TABLE blocker")
        rerun = manage(env, "migrate_all", "--tenant", "a", "--tenant", "b")
        assert "tenant_a: up to date" in rerun
        assert pg_schema(urls["b"]) == reference


@pytest.mark.postgres
def test_a_replay_batch_whose_commit_answer_is_lost_is_not_run_again(tmp_path: Path) -> None:
    """On b, the connection is cut just after the COMMIT of a replay batch reached the server
    (the server committed; the answer is lost). The batch is not run again one by one: that
    would record its migrations without SQL (auth's, whose tables live on default) twice, and
    fail its first CREATE TABLE, naming a migration that is applied."""
    from django_cfg import DatabaseConfig
    from tests.support.lost_commit_proxy import LostCommitProxy

    with postgres_tenants(tmp_path) as (urls, env):
        server = DatabaseConfig.from_url(urls["b"])
        database = urls["b"].partition("?")[0].rpartition("/")[2]
        proxy = LostCommitProxy(
            str(server.host), int(server.port or 5432), database, "CREATE TABLE"
        )
        base, _, query = env["BENCH_TENANT_URL"].partition("?")
        through = base.replace(f"{server.host}:{server.port}", f"127.0.0.1:{proxy.port}")
        through += "?" + "&".join(filter(None, [query, "sslmode=disable&gssencmode=disable"]))
        try:
            out = manage(
                {**env, "BENCH_TENANT_URL": through},
                "migrate_all",
                "--tenant",
                "a",
                "--tenant",
                "b",
                check=False,
            )
        finally:
            proxy.close()
        assert proxy.fired.is_set(), out
        reference = pg_schema(urls["ref"])
        rows = pg_schema(urls["b"])["migrations"]
        assert rows == reference["migrations"][: len(rows)], out  # no row twice
        assert "already exists" not in out

        manage(env, "migrate_all", "--tenant", "a", "--tenant", "b")
        assert pg_schema(urls["b"]) == reference


SQUASH_CONFIG = """\
    from pathlib import Path
    from django_cfg import DatabaseConfig, DjangoConfig, TenantsConfig

    class SquashConfig(DjangoConfig):
        base_dir = Path(__file__).resolve().parent.parent
        project_apps = ["notes"]
        databases = {"default": DatabaseConfig.from_url("sqlite:///default.sqlite3")}
        tenants = TenantsConfig(
            apps=["notes"], url="sqlite:///tenants/{tenant}.sqlite3", names=["a", "ref"]
        )

    config = SquashConfig()
    """
SQUASH_MIGRATIONS = {
    "notes/migrations/__init__.py": "",
    "notes/migrations/0001_initial.py": """\
from django.db import migrations, models

class Migration(migrations.Migration):
    initial = True
    operations = [migrations.CreateModel("Note", [("id", models.AutoField(primary_key=True))])]
""",
    "notes/migrations/0002_text.py": """\
from django.db import migrations, models

class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial")]
    operations = [migrations.AddField("note", "text", models.TextField(default=""))]
""",
    "notes/migrations/0001_squashed_0002_text.py": """\
from django.db import migrations, models

class Migration(migrations.Migration):
    initial = True
    replaces = [("notes", "0001_initial"), ("notes", "0002_text")]
    operations = [
        migrations.CreateModel(
            "Note",
            [("id", models.AutoField(primary_key=True)), ("text", models.TextField(default=""))],
        )
    ]
""",
}


def test_a_squashed_migration_gets_its_own_row_as_migrate_gives_it(tmp_path: Path) -> None:
    """``migrate`` records the migrations a squash replaces, then the squash itself once all
    they are (``check_replacements``); migrate_all's shared plan leaves the same rows."""
    models = (
        "from django.db import models\n\nclass Note(models.Model):\n    text = models.TextField()\n"
    )
    write_manage_py_project(
        tmp_path, SQUASH_CONFIG, apps={"notes": models}, files=SQUASH_MIGRATIONS
    )
    (tmp_path / "tenants").mkdir()

    def manage_py(*args: str) -> str:
        run = run_process([sys.executable, "manage.py", *args], cwd=tmp_path)
        assert run.returncode == 0, run.stdout + run.stderr
        return run.stdout

    manage_py("migrate", "--noinput", "-v", "0")
    manage_py("migrate", "--noinput", "-v", "0", "--database", "tenant_ref")
    manage_py("migrate_all")

    def rows(name: str) -> list[tuple[str, str]]:
        with closing(sqlite3.connect(tmp_path / "tenants" / f"{name}.sqlite3")) as db:
            return db.execute(
                "SELECT app, name FROM django_migrations WHERE app = 'notes' ORDER BY id"
            ).fetchall()

    assert rows("ref") == [
        ("notes", "0001_initial"),
        ("notes", "0002_text"),
        ("notes", "0001_squashed_0002_text"),
    ]
    assert rows("a") == rows("ref")
    assert "tenant_a: up to date" in manage_py("migrate_all", "--check")
