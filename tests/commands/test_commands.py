"""migrate_all, migrator, db_status and makemigrations, run as a user runs them (manage.py)."""

from __future__ import annotations

import fcntl
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from django_cfg import DatabaseConfig
from tests.support.example_project import ALIASES, ExampleProject
from tests.support.services import REPLICA_URL
from tests.support.spec_page import run_process, user_environment

BLOG_TABLES = {"blog_post", "blog_comment"}


@pytest.fixture
def project(tmp_path: Path) -> ExampleProject:
    return ExampleProject.copy(tmp_path)


def exit_code(project: ExampleProject, *args: str) -> tuple[int, str]:
    run = run_process([sys.executable, "manage.py", *args], cwd=project.root, env=project.env)
    return run.returncode, run.stdout + run.stderr


# migrate_all ----------------------------------------------------------------------------------


def test_migrate_all_migrates_each_database_with_its_apps_default_first(project) -> None:
    output = project.manage("migrate_all")
    *lines, notice = [line for line in output.splitlines() if line]
    assert [line.split(":")[0] for line in lines] == ["default", "blog_db", "shop_db"]
    assert notice.startswith("Each database also recorded the migrations of the apps that live")
    assert lines[1].startswith("blog_db: 2 applied: blog.0001_initial, django_cfg.0001_")
    assert "recorded for apps that live on other databases" not in lines[1]  # said once, -v 2
    assert lines[1].endswith("s)")  # how long it took
    assert project.tables("blog_db") >= BLOG_TABLES
    assert not BLOG_TABLES & project.tables("default")
    assert "accounts_user" not in project.tables("blog_db")


def test_migrate_all_is_idempotent(project) -> None:
    project.manage("migrate_all")
    before = {
        alias: project.query(alias, "SELECT COUNT(*) FROM django_migrations") for alias in ALIASES
    }
    output = project.manage("migrate_all")
    assert output.count("up to date") == 3
    after = {
        alias: project.query(alias, "SELECT COUNT(*) FROM django_migrations") for alias in ALIASES
    }
    assert before == after


def test_check_exits_1_while_anything_is_unapplied_and_applies_nothing(project) -> None:
    code, output = exit_code(project, "migrate_all", "--check")
    assert code == 1
    assert "blog_db: 2 unapplied: blog.0001_initial, django_cfg.0001_delete_intents" in output
    assert project.tables("blog_db") == set()
    project.manage("migrate_all", "--database", "default")
    code, output = exit_code(project, "migrate_all", "--check")
    assert code == 1
    assert "default: up to date" in output
    project.manage("migrate_all")
    assert exit_code(project, "migrate_all", "--check")[0] == 0


def test_plan_shows_each_database_and_applies_nothing(project) -> None:
    output = project.manage("migrate_all", "--plan")
    assert "Planned operations on blog_db:" in output
    assert "blog.0001_initial" in output
    assert "Create model Post" in output
    assert project.tables("blog_db") == set()


def test_database_option_is_repeatable_and_limits_the_run(project) -> None:
    output = project.manage("migrate_all", "--database", "shop_db", "--database", "blog_db")
    lines = output.splitlines()[:-1]  # the last: the migrations recorded for other databases
    assert [line.split(":")[0] for line in lines] == ["blog_db", "shop_db"]
    assert "accounts_user" not in project.tables("default")
    assert "shop_product" in project.tables("shop_db")


@pytest.mark.parametrize(
    ("alias", "reason"),
    [
        ("nope", "--database nope: no such database in DATABASES"),
        ("replica", "is a replica of default"),  # the spec's databases["replica"], by its name
        ("analytics", "has no apps routed to it"),
    ],
)
def test_database_option_refuses_databases_that_take_no_migrations(project, alias, reason) -> None:
    project.urls["replica"] = "sqlite:///db/replica.sqlite3"
    project.urls["analytics"] = "sqlite:///db/analytics.sqlite3"
    code, output = exit_code(project, "migrate_all", "--database", alias)
    assert code == 1
    assert "CommandError" in output
    assert reason in output


def test_verbosity_0_is_silent_and_2_shows_djangos_own_output(project) -> None:
    assert project.manage("migrate_all", "--noinput", "--verbosity", "0") == ""
    project2 = ExampleProject.copy(project.root.parent / "second")
    output = project2.manage("migrate_all", "--no-input", "-v", "2")
    assert "Migrating blog_db:" in output
    assert "Applying blog.0001_initial... OK" in output


# Two runs at once: the second waits for the first's lock on each database.


@contextmanager
def migration_lock_held(project: ExampleProject, engine: str) -> Iterator[None]:
    """Hold default's migration lock from this process, as another migrate_all would."""
    from django_cfg.runtime.server_locks import advisory_key, mysql_lock_name
    from django_cfg.schema.lock import LOCK_NAME

    if engine == "sqlite":
        with (project.root / "db" / "default.sqlite3.migrate-lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        return
    database = DatabaseConfig.from_url(project.urls["default"])
    if engine == "postgresql":
        import psycopg

        with psycopg.connect(
            host=database.host, port=database.port, user=database.user, dbname=database.name
        ) as connection:
            connection.execute("SELECT pg_advisory_lock(%s)", [advisory_key(LOCK_NAME)])
            yield
        return
    import MySQLdb

    connection = MySQLdb.connect(
        host=database.host, port=database.port or 3306, user=database.user, database=database.name
    )
    with closing(connection):
        connection.cursor().execute(
            "SELECT GET_LOCK(%s, 10)", [mysql_lock_name(str(database.name), LOCK_NAME)]
        )
        yield


@pytest.fixture(
    params=[
        pytest.param("sqlite"),
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def any_engine_project(
    request: pytest.FixtureRequest, tmp_path: Path
) -> tuple[ExampleProject, str]:
    if request.param == "sqlite":
        project = ExampleProject.copy(tmp_path)
        (project.root / "db").mkdir()
    else:
        fixture = (
            "new_postgres_database" if request.param == "postgresql" else "new_mariadb_database"
        )
        create = request.getfixturevalue(fixture)
        project = ExampleProject.copy(tmp_path, {alias: create() for alias in ALIASES})
    return project, request.param


def test_migrate_all_waits_for_a_run_that_holds_the_lock(any_engine_project) -> None:
    project, engine = any_engine_project
    with migration_lock_held(project, engine):
        waiting = subprocess.Popen(
            [sys.executable, "manage.py", "migrate_all", "--noinput"],
            cwd=project.root,
            env=user_environment({**project.env, "PYTHONUNBUFFERED": "1"}),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert waiting.stdout is not None
        first_line = waiting.stdout.readline()
        assert first_line.startswith("default: waiting for another migrate_all")
        time.sleep(0.5)  # it really waits: nothing is created meanwhile
        assert "accounts_user" not in project.tables("default")
    rest = waiting.stdout.read()  # the lock is released: it goes on
    assert waiting.wait(timeout=120) == 0
    assert "default: 20 applied" in rest
    assert "accounts_user" in project.tables("default")


@pytest.mark.postgres
def test_two_concurrent_runs_on_postgresql_both_succeed_once(
    tmp_path: Path, new_postgres_database
) -> None:
    project = ExampleProject.copy(tmp_path, {a: new_postgres_database() for a in ALIASES})
    project.migrate_all_at_once(2, timeout=180)
    assert project.tables("blog_db") >= BLOG_TABLES


# migrator -------------------------------------------------------------------------------------

SLUG_FIELD = "    slug = models.SlugField(default='', blank=True)\n"


def add_slug_field(project: ExampleProject) -> None:
    models = project.root / "apps" / "blog" / "models.py"
    anchor = "    content = models.TextField(blank=True)\n"
    models.write_text(models.read_text().replace(anchor, anchor + SLUG_FIELD))


def blog_post_columns(project: ExampleProject) -> set[str]:
    return {row[1] for row in project.query("blog_db", "PRAGMA table_info(blog_post)")}


def test_migrator_auto_writes_migrations_then_migrates_every_database(project) -> None:
    add_slug_field(project)
    output = project.manage("migrator", "--auto")
    assert "blog: 1 new migration(s) to write" in output
    assert (project.root / "apps" / "blog" / "migrations" / "0002_post_slug.py").is_file()
    assert "slug" in blog_post_columns(project)
    assert exit_code(project, "migrate_all", "--check")[0] == 0


def test_migrator_dry_run_changes_nothing(project) -> None:
    add_slug_field(project)
    output = project.manage("migrator", "--dry-run")
    assert "blog: 1 new migration(s) to write" in output
    assert "Planned operations on blog_db:" in output
    assert not (project.root / "apps" / "blog" / "migrations" / "0002_post_slug.py").exists()
    assert project.tables("blog_db") == set()


def test_migrator_shows_every_database_and_asks(project) -> None:
    output = project.manage("migrator", stdin="2\n")
    assert "blog_db: 22 unapplied (" in output
    assert "blog: 0001_initial" in output
    assert "[2] migrate_all only" in output
    assert "blog_db: 2 applied" in output  # the answer ran migrate_all
    assert project.tables("blog_db") >= BLOG_TABLES


def test_migrator_noinput_only_shows_the_state(project) -> None:
    output = project.manage("migrator", "--noinput")
    assert "shop_db: 22 unapplied" in output
    assert project.tables("shop_db") == set()
    project.manage("migrate_all")
    assert "Everything is up to date." in project.manage("migrator", "--noinput")


# db_status ------------------------------------------------------------------------------------


def test_db_status_json_describes_every_database(project) -> None:
    project.manage("migrate_all", "--database", "default")
    code, output = exit_code(project, "db_status")
    assert code == 1
    assert "blog.sqlite3 does not exist yet (run manage.py migrate_all)" in output
    assert not (project.root / "db" / "blog.sqlite3").exists()  # a status creates nothing
    (project.root / "db" / "blog.sqlite3").touch()  # an empty database
    (project.root / "db" / "shop.sqlite3").touch()
    statuses = {s["alias"]: s for s in json.loads(project.manage("db_status", "--json"))}
    assert list(statuses) == list(ALIASES)
    blog = statuses["blog_db"]
    assert blog["engine"] == "django.db.backends.sqlite3"
    assert blog["role"] == "primary"
    assert blog["apps"] == ["blog"]
    assert blog["reachable"] is True
    assert blog["latency_ms"] >= 0
    assert "blog.0001_initial" in blog["pending"]
    assert statuses["default"]["pending"] == []
    assert "accounts" in statuses["default"]["apps"]


def test_db_status_exits_1_when_a_primary_is_down_and_never_shows_the_password(project) -> None:
    project.manage("migrate_all")
    project.urls["shop_db"] = "postgresql://shop:hunter2secret@127.0.0.1:1/shop"
    code, output = exit_code(project, "db_status")
    assert code == 1
    assert "reachable: no" in output
    assert "1 primary database unhealthy; 2 healthy, 1 failed:\n  shop_db: " in output
    assert "127.0.0.1:1/shop" in output
    assert "hunter2secret" not in output
    code, output = exit_code(project, "db_status", "--json")
    assert code == 1
    assert "hunter2secret" not in output


@pytest.mark.postgres
@pytest.mark.replica
def test_db_status_during_a_primary_outage_shows_each_alias_its_own_state(project) -> None:
    replica = DatabaseConfig.from_url(REPLICA_URL)
    project.urls["default"] = "postgresql://app:hunter2secret@127.0.0.1:1/app"  # refused
    project.urls["replica"] = f"postgresql://{replica.user}@{replica.host}:{replica.port}/postgres"
    code, text = exit_code(project, "db_status")
    json_code, json_text = exit_code(project, "db_status", "--json")
    assert (code, json_code) == (1, 1)
    statuses = {s["alias"]: s for s in json.loads(json_text[: json_text.index("\n]") + 2])}
    default, standby = statuses["default"], statuses["replica"]
    assert default["reachable"] is False
    assert "127.0.0.1" in default["error"]
    assert "port 1" in default["error"]
    # The replica answers: reachable, no error of its own; its lag is unknown, and says why.
    assert (standby["reachable"], standby["error"], standby["lag_bytes"]) == (True, None, None)
    assert standby["lag_error"].startswith("primary 'default': OperationalError")
    # The text says the same as the JSON, alias by alias.
    sections = dict(re.findall(r"^(\w+)  .*?\n((?:  .*\n)+)", text, flags=re.M))
    assert "reachable: no" in sections["default"]
    assert "port 1" in sections["default"]
    assert "reachable: yes" in sections["replica"]
    assert "replication lag: unknown (primary 'default': OperationalError" in sections["replica"]
    assert "hunter2secret" not in text + json_text


# makemigrations --------------------------------------------------------------------------------


def test_makemigrations_says_which_foreign_keys_cross_databases(project) -> None:
    output = project.manage("makemigrations")
    assert "Cross-database ForeignKeys (no database constraint):" in output
    assert "blog.Post.author (blog_db) -> accounts.User (default): db_constraint=False" in output
    assert "No changes detected" in output


@pytest.mark.parametrize(
    "fixture",
    [
        pytest.param(None, id="sqlite"),
        pytest.param("new_postgres_database", marks=pytest.mark.postgres, id="postgresql"),
    ],
)
def test_parallel_migrates_default_first_then_the_others_at_once(
    tmp_path: Path, fixture: str | None, request: pytest.FixtureRequest
) -> None:
    create = request.getfixturevalue(fixture) if fixture else None
    project = ExampleProject.copy(tmp_path, {a: create() for a in ALIASES} if create else None)
    output = project.manage("migrate_all", "--parallel", "3")
    lines = [line for line in output.splitlines() if line][:-1]  # the notice said once, last
    assert lines[0].startswith("default: 20 applied")
    assert sorted(line.split(":")[0] for line in lines[1:]) == ["blog_db", "shop_db"]
    for alias, tables in {
        "blog_db": BLOG_TABLES,
        "shop_db": {"shop_product", "shop_order"},
    }.items():
        assert project.tables(alias) >= tables
    assert exit_code(project, "migrate_all", "--check")[0] == 0
