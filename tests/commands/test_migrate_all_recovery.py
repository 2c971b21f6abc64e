"""migrate_all after kill -9, and with one database failing: every other database is finished.

The example project (default, blog_db, shop_db) on SQLite files, PostgreSQL and MariaDB:
- random kills: ``migrate_all -v 2`` killed with SIGKILL a random time after its k-th
  "Applying" (k random), then a plain re-run must exit 0 and leave each database with exactly
  the schema (tables, indexes, constraints) and django_migrations rows of a clean run;
- the states a kill leaves, made on purpose (migration applied, not recorded; on MariaDB part of
  a migration's tables or its indexes missing): the re-run fakes it and says which and why;
- one database that cannot be migrated does not stop the others; the summary names it, without
  its password, and the exit status is 1.

Rounds per engine: DJANGO_CFG_KILL_ROUNDS (default 2; docs/security.md gives a longer run).
"""

from __future__ import annotations

import os
import random
import sqlite3
import sys
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest

from django_cfg import DatabaseConfig
from tests.support.example_project import ALIASES, ExampleProject
from tests.support.killed_migrate_all import kill_migrate_all
from tests.support.spec_page import run_process

ROUNDS = int(os.environ.get("DJANGO_CFG_KILL_ROUNDS", "2"))
ENGINES = [
    pytest.param("sqlite"),
    pytest.param("postgresql", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
]
OUTCOMES: Counter[str] = Counter()


def new_project(tmp_path: Path, engine: str, request: pytest.FixtureRequest) -> ExampleProject:
    root = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
    root.mkdir()
    if engine == "sqlite":
        project = ExampleProject.copy(root)
        (project.root / "db").mkdir()
        return project
    fixture = "new_postgres_database" if engine == "postgresql" else "new_mariadb_database"
    create = request.getfixturevalue(fixture)
    return ExampleProject.copy(root, {alias: create() for alias in ALIASES})


def family(project: ExampleProject, alias: str) -> str:
    url = project.urls.get(alias)
    return DatabaseConfig.from_url(url).family or "sqlite" if url else "sqlite"


def schema(project: ExampleProject, alias: str) -> dict[str, object]:
    """Tables, index and constraint names, and django_migrations rows, read with the driver."""
    kind = family(project, alias)
    if kind == "sqlite":
        objects = project.query(
            alias, "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        )
    elif kind == "postgresql":
        objects = project.query(
            alias,
            "SELECT 'table', tablename FROM pg_tables WHERE schemaname = 'public' "
            "UNION ALL SELECT 'index', indexname FROM pg_indexes WHERE schemaname = 'public' "
            "UNION ALL SELECT 'constraint', conname FROM pg_constraint c JOIN pg_namespace n "
            "ON n.oid = c.connamespace WHERE n.nspname = 'public'",
        )
    else:
        objects = project.query(
            alias,
            "SELECT 'table', TABLE_NAME FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() UNION ALL "
            "SELECT DISTINCT 'index', CONCAT(TABLE_NAME, '.', INDEX_NAME) "
            "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() UNION ALL "
            "SELECT 'constraint', CONCAT(TABLE_NAME, '.', CONSTRAINT_NAME) "
            "FROM information_schema.TABLE_CONSTRAINTS WHERE TABLE_SCHEMA = DATABASE()",
        )
    rows = project.query(alias, "SELECT app, name FROM django_migrations")
    return {"objects": sorted(map(tuple, objects)), "migrations": sorted(map(tuple, rows))}


def all_schemas(project: ExampleProject) -> dict[str, dict[str, object]]:
    return {alias: schema(project, alias) for alias in ALIASES}


_reference: dict[str, dict[str, dict[str, object]]] = {}


def reference(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict:
    """The schema a clean migrate_all leaves, per alias (once per engine)."""
    if engine not in _reference:
        project = new_project(tmp_path, engine, request)
        project.manage("migrate_all", "--noinput")
        _reference[engine] = all_schemas(project)
    return _reference[engine]


def kill_during_migrate_all(project: ExampleProject, rng: random.Random) -> int:
    """Start migrate_all, SIGKILL it a random time after its k-th "Applying"; k returned."""
    # 23 migrations are applied on the three databases
    return kill_migrate_all(project.root, project.env, rng, migrations=23, max_pause=0.08)


UNRECORDED_REMOVE_FIELD = "Unknown column 'name' in 'django_content_type'"
"""What the re-run says when contenttypes.0002 dropped its column but was not recorded."""


@pytest.mark.parametrize("engine", ENGINES)
def test_rerun_after_kill_9_at_random_points_finishes_every_database(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expected = reference(engine, tmp_path, request)
    rng = random.Random(f"{engine}-{ROUNDS}-{os.getpid()}")
    for round_number in range(ROUNDS):
        project = new_project(tmp_path, engine, request)
        seen = kill_during_migrate_all(project, rng)
        rerun = run_process(
            [sys.executable, "manage.py", "migrate_all", "--noinput"],
            cwd=project.root,
            env=project.env,
        )
        if engine == "mariadb" and UNRECORDED_REMOVE_FIELD in rerun.stdout:
            # The documented gap (docs/security.md, "Not covered"): MariaDB cannot roll back DDL,
            # and a kill between contenttypes.0002's DROP COLUMN and its record leaves a
            # non-initial migration applied but not recorded, which is not detected. The
            # documented fix must finish the job: record it with --fake, then re-run.
            fake = run_process(
                [
                    sys.executable,
                    "manage.py",
                    "migrate",
                    "--database",
                    "default",
                    "--fake",
                    "contenttypes",
                    "0002",
                ],
                cwd=project.root,
                env=project.env,
            )
            assert fake.returncode == 0, fake.stdout
            rerun = run_process(
                [sys.executable, "manage.py", "migrate_all", "--noinput"],
                cwd=project.root,
                env=project.env,
            )
            OUTCOMES[f"{engine}: documented gap, finished by migrate --fake"] += 1
        assert rerun.returncode == 0, f"round {round_number}, killed after {seen}: {rerun.stdout}"
        assert all_schemas(project) == expected, f"round {round_number}: {rerun.stdout}"
        OUTCOMES[f"{engine}: {'faked' if ' faked' in rerun.stdout else 'plain re-run'}"] += 1
    print(f"\nkill -9 outcomes after {ROUNDS} rounds: {dict(sorted(OUTCOMES.items()))}")


def execute(project: ExampleProject, alias: str, sql: str) -> None:
    """Run one statement with the bare driver and commit it."""
    kind = family(project, alias)
    if kind == "sqlite":
        name = "default" if alias == "default" else alias.removesuffix("_db")
        with closing(sqlite3.connect(project.root / "db" / f"{name}.sqlite3")) as connection:
            connection.execute(sql)
            connection.commit()
        return
    database = DatabaseConfig.from_url(project.urls[alias])
    if kind == "postgresql":
        import psycopg

        with psycopg.connect(
            host=database.host, port=database.port, user=database.user, dbname=database.name
        ) as connection:
            connection.execute(sql)
        return
    import MySQLdb

    with closing(
        MySQLdb.connect(
            host=database.host,
            port=database.port or 3306,
            user=database.user,
            database=database.name,
        )
    ) as connection:
        connection.cursor().execute(sql)
        connection.commit()


def delete_rows(project: ExampleProject, alias: str, app: str) -> None:
    execute(project, alias, f"DELETE FROM django_migrations WHERE app = '{app}'")


@pytest.mark.parametrize("engine", ENGINES)
def test_a_migration_applied_but_not_recorded_is_faked_with_a_message(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # What a kill between the transaction that creates the tables and the INSERT into
    # django_migrations leaves (Django records migrations with deferred SQL after the commit).
    expected = reference(engine, tmp_path, request)
    project = new_project(tmp_path, engine, request)
    project.manage("migrate_all", "--noinput")
    delete_rows(project, "default", "sessions")
    delete_rows(project, "blog_db", "blog")
    output = project.manage("migrate_all", "--noinput")
    assert (
        "default: sessions.0001_initial faked: its tables exist but it was not recorded "
        "(a migrate run was interrupted, or they were made outside migrations): django_session"
    ) in output
    assert "blog_db: blog.0001_initial faked: its tables exist but it was not recorded" in output
    assert "shop_db: up to date" in output
    assert all_schemas(project) == expected


@pytest.mark.mariadb
def test_on_mariadb_a_half_created_initial_migration_is_completed(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # MariaDB commits each CREATE TABLE on its own: a kill can leave some of a migration's
    # tables, and tables without the indexes and foreign keys Django adds at the end.
    expected = reference("mariadb", tmp_path, request)
    project = new_project(tmp_path, "mariadb", request)
    for args in (("contenttypes",), ("auth", "0001"), ("sessions",)):
        project.manage("migrate", "--database", "default", *args, "-v", "0")
    project.manage("migrate", "--database", "blog_db", "-v", "0")
    # auth.0001_initial killed after its first table: auth_group and its many-to-many missing.
    delete_rows(project, "default", "auth")
    execute(project, "default", "DROP TABLE auth_group_permissions")
    execute(project, "default", "DROP TABLE auth_group")
    # sessions.0001_initial without its index (Django adds it after the table).
    delete_rows(project, "default", "sessions")
    index = project.query(
        "default",
        "SELECT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME = 'django_session' AND INDEX_NAME <> 'PRIMARY'",
    )[0][0]
    execute(project, "default", f"DROP INDEX {index} ON django_session")
    # blog.0001_initial killed between its two tables.
    delete_rows(project, "blog_db", "blog")
    execute(project, "blog_db", "DROP TABLE blog_comment")

    output = project.manage("migrate_all", "--noinput")
    assert (
        "default: auth.0001_initial faked: its tables exist but it was not recorded (a migrate "
        "run was interrupted, or they were made outside migrations): auth_permission; created "
        "what it lacked: table auth_group, table auth_group_permissions"
    ) in output
    assert "default: sessions.0001_initial will be faked (--fake-initial)" in output
    assert f"default: created what faked migrations lacked: sessions.0001_initial: {index}" in (
        output
    )
    assert "blog_db: blog.0001_initial faked" in output
    assert "created what it lacked: table blog_comment" in output
    assert all_schemas(project) == expected


@pytest.mark.postgres
def test_a_database_that_fails_does_not_stop_the_others(
    tmp_path: Path, new_postgres_database
) -> None:
    password = "Pw8vq2xk"
    urls = {alias: new_postgres_database() for alias in ALIASES}
    # A database that does not exist, named so that the driver's error contains the password.
    urls["blog_db"] = f"postgresql://postgres:{password}@127.0.0.1:5432/missing_{password}"
    project = ExampleProject.copy(tmp_path, urls)
    run = run_process(
        [sys.executable, "manage.py", "migrate_all", "--noinput"], cwd=project.root, env=project.env
    )
    output = run.stdout + run.stderr
    assert run.returncode == 1
    assert password not in output
    assert (
        "CommandError: 1 of 3 databases failed to migrate; 2 migrated, 1 failed:\n  blog_db: "
        in output
    )
    assert "  blog_db: migrate failed after " in output
    assert "OperationalError" in output
    assert 'database "missing_***" does not exist' in output
    assert "accounts_user" in project.tables("default")
    assert "shop_product" in project.tables("shop_db")


@pytest.mark.parametrize("parallel", [[], ["--parallel", "3"]], ids=["serial", "parallel"])
def test_default_failing_does_not_stop_blog_db_and_shop_db_on_sqlite(
    tmp_path: Path, parallel: list[str]
) -> None:
    blocked = tmp_path / "a-directory.sqlite3"
    blocked.mkdir()  # where the file should be: SQLite cannot open it
    project = ExampleProject.copy(tmp_path)
    project.urls["default"] = f"sqlite:///{blocked}"
    run = run_process(
        [sys.executable, "manage.py", "migrate_all", "--noinput", *parallel],
        cwd=project.root,
        env=project.env,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "blog_db: 2 applied: blog.0001_initial, django_cfg.0001_delete_intents" in output
    assert "shop_db: 2 applied: django_cfg.0001_delete_intents, shop.0001_initial" in output
    assert "1 of 3 databases failed to migrate; 2 migrated, 1 failed:\n  default: " in output
    assert "  default: migrate failed after " in output
    assert "blog_post" in project.tables("blog_db")


@pytest.mark.mariadb
def test_an_unreachable_mariadb_database_does_not_stop_the_others(
    tmp_path: Path, new_mariadb_database
) -> None:
    # MySQL's database checks connect: the unreachable database must not stop them either.
    urls = {alias: new_mariadb_database() for alias in ALIASES}
    urls["shop_db"] = urls["shop_db"].rsplit("/", 1)[0] + "/django_cfg_missing?charset=utf8mb4"
    project = ExampleProject.copy(tmp_path, urls)
    run = run_process(
        [sys.executable, "manage.py", "migrate_all", "--noinput"], cwd=project.root, env=project.env
    )
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "1 of 3 databases failed to migrate; 2 migrated, 1 failed:\n  shop_db: " in output
    assert "  shop_db: migrate failed after " in output
    assert "Unknown database 'django_cfg_missing'" in output
    assert "blog_post" in project.tables("blog_db")
