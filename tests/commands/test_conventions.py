"""The commands follow Django's conventions (issue 20.6): -v 0 prints only errors, no traceback
for an expected condition, Django's styles, summaries readable at 1,000 databases, "did you
mean" for a typo, a corrupt SQLite file is unhealthy. Run as a user runs them (manage.py)."""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

import pytest

from tests.support.example_project import ExampleProject
from tests.support.services import POSTGRES_URL, REPLICA_URL
from tests.support.spec_page import run_process
from tests.tenants.project_support import SQLITE_TEMPLATE, TenantProject

GREEN, RED, RESET = "\x1b[32;1m", "\x1b[31;1m", "\x1b[0m"
"""Django's SUCCESS and ERROR styles (django.utils.termcolors.PALETTES["dark"])."""


@pytest.fixture
def project(tmp_path: Path) -> ExampleProject:
    return ExampleProject.copy(tmp_path)


def run(project: ExampleProject, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    """``manage.py ARGS``: exit status, stdout, stderr."""
    done = run_process(
        [sys.executable, "manage.py", *args], cwd=project.root, env=project.env, stdin=stdin
    )
    return done.returncode, done.stdout, done.stderr


def corrupt(path: Path) -> None:
    """Overwrite a SQLite file with bytes that are no database (SQLite opens it anyway)."""
    path.write_bytes(b"this is not a database file, but SQLite opens it lazily" * 100)


# styles -----------------------------------------------------------------------------------------


def test_migrate_all_styles_success_green_notices_plain_errors_red(project) -> None:
    detailed = ExampleProject.copy(project.root.parent / "detailed").manage(
        "migrate_all", "-v", "2"
    )
    assert "blog_db: 2 applied: blog.0001_initial, django_cfg.0001_delete_intents (+21 " in detailed
    code, out, _ = run(project, "migrate_all", "--force-color")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"{GREEN}default{RESET}: 21 applied: ")
    # said once, not on every line
    assert "recorded for apps that live on other databases" not in out
    assert out.count("recorded the migrations of the apps that live on other databases") == 1
    code, out, _ = run(project, "migrate_all", "--force-color")
    assert code == 0
    assert [line.split(" (")[0] for line in out.splitlines()] == [
        "default: up to date",  # plain: Django's NOTICE style is red
        "blog_db: up to date",
        "shop_db: up to date",
    ]
    assert "\x1b[" not in out
    project.urls["shop_db"] = "postgresql://shop:hunter2secret@127.0.0.1:1/shop"  # refused
    code, out, err = run(project, "migrate_all", "--force-color")
    assert code == 1
    assert err.startswith(f"{RED}shop_db: migrate failed after ")
    assert "hunter2secret" not in out + err


# summaries at 1,000 databases -------------------------------------------------------------------


def test_a_summary_of_1000_databases_counts_them_and_lists_only_the_failed() -> None:
    from django_cfg.management.output import summary

    outcomes = {f"tenant_t{i:04d}": "up to date" for i in range(995)}
    outcomes.update({f"tenant_n{i}": "migrated" for i in range(3)})
    failures = {"tenant_a": "OperationalError: x", "tenant_b": "DatabaseError: y"}
    counts: dict[str, int] = {}
    for outcome in outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    text = summary(counts, failures)
    assert text.splitlines() == [
        "995 up to date, 3 migrated, 2 failed:",
        "  tenant_a: OperationalError: x",
        "  tenant_b: DatabaseError: y",
    ]
    assert summary({"up to date": 1000}, {}) == "1000 up to date."


def test_migrate_all_failure_names_the_failed_tenants_and_counts_the_others(
    tmp_path: Path,
) -> None:
    names = [f"t{i}" for i in range(6)]
    tenants = TenantProject(tmp_path, SQLITE_TEMPLATE, names=names)
    tenants.manage("migrate_all")
    corrupt(tmp_path / "tenants" / "t1.sqlite3")
    corrupt(tmp_path / "tenants" / "t4.sqlite3")
    code, out = tenants.status("migrate_all")
    assert code == 1
    error = out[out.index("CommandError:") :]
    assert error.splitlines()[0] == (
        "CommandError: 2 of 7 databases failed to migrate; 5 up to date, 2 failed:"
    )
    assert [line.split(":")[0] for line in error.splitlines()[1:]] == [
        "  tenant_t1",
        "  tenant_t4",
    ]
    assert "file is not a database" in error
    assert "tenant_t0" not in error  # the databases that went well are counted, not listed


# -v 0 / -v 2 ------------------------------------------------------------------------------------


def test_db_status_verbosity_0_prints_nothing_when_healthy_and_2_names_migrations(
    project,
) -> None:
    project.manage("migrate_all", "--database", "default")
    for name in ("blog", "shop"):
        (project.root / "db" / f"{name}.sqlite3").touch()
    assert run(project, "db_status", "-v", "0") == (0, "", "")
    out = project.manage("db_status")
    assert "migrations: 23 unapplied (run manage.py migrate_all)" in out
    assert out.splitlines()[-1] == "3 databases: 1 healthy, 2 healthy, with unapplied migrations."
    detailed = project.manage("db_status", "-v", "2")
    assert "migrations: 23 unapplied: " in detailed
    assert "blog.0001_initial" in detailed


def test_move_tenant_verbosity_0_prints_nothing_and_a_typo_gets_a_suggestion(
    tmp_path: Path,
) -> None:
    tenants = TenantProject(tmp_path, SQLITE_TEMPLATE, recheck_seconds=0.1)
    tenants.manage("migrate_all")
    tenants.manage("create_tenant", "acme")
    code, out = tenants.status("move_tenant", "acmee", "--url", "sqlite:///m.sqlite3")
    assert code == 1
    assert "no tenant 'acmee'" in out
    assert "Did you mean 'acme'?" in out
    moved = run_process(
        [sys.executable, "-m", "tests.tenants.project.run", "manage", "move_tenant", "acme",
         "--url", "sqlite:///moved/acme.sqlite3", "--noinput", "--drop-source", "-v", "0"],
        cwd=Path(__file__).resolve().parents[2],
        env=tenants.env,
    )  # fmt: skip
    assert (moved.returncode, moved.stdout, moved.stderr) == (0, "", "")
    assert (tmp_path / "moved" / "acme.sqlite3").exists()
    assert not (tmp_path / "tenants" / "acme.sqlite3").exists()


# db_status: an unreadable SQLite file -----------------------------------------------------------


def test_db_status_reports_a_corrupt_sqlite_file_unhealthy_in_text_and_exits_1(project) -> None:
    project.manage("migrate_all")
    corrupt(project.root / "db" / "shop.sqlite3")
    code, out, err = run(project, "db_status")
    assert code == 1
    shop = out[out.index("shop_db  ") :]
    assert "reachable: no  DatabaseError: file is not a database" in shop
    assert err.splitlines() == [
        "CommandError: 1 primary database unhealthy; 2 healthy, 1 failed:",
        "  shop_db: DatabaseError: file is not a database",
    ]
    code, out, _ = run(project, "db_status", "--json")
    assert code == 1
    statuses = {s["alias"]: s for s in json.loads(out)}
    assert statuses["shop_db"]["healthy"] is False
    assert statuses["blog_db"]["healthy"] is True
    assert run(project, "db_status", "-v", "0")[:2] == (1, "")


# no traceback for an expected condition ---------------------------------------------------------


def test_a_database_that_does_not_answer_is_a_command_error_not_a_traceback(project) -> None:
    project.manage("migrate_all")
    fixtures = project.root / "fixtures"
    fixtures.mkdir()
    (fixtures / "shop_db.json").write_text("[]")
    project.urls["shop_db"] = "postgresql://shop:hunter2secret@127.0.0.1:1/shop"  # refused
    for args in (
        ("migrate_all", "--check"),
        ("migrate_all", "--plan"),
        ("migrator", "--noinput"),
        ("loaddata_all", str(fixtures)),
    ):
        code, out, err = run(project, *args)
        assert code == 1, args
        assert "Traceback" not in err, args
        assert "CommandError: " in err, args
        assert "shop_db" in err, args
        assert "127.0.0.1" in err, args
        assert "hunter2secret" not in out + err


def test_migrator_without_a_terminal_says_what_to_pass(project) -> None:
    code, out, err = run(project, "migrator", stdin="")
    assert code == 1
    assert "Traceback" not in err
    assert "standard input is closed: pass --auto" in err
    assert "blog_db: 23 unapplied" in out  # the state was shown first


# a database that does not exist -----------------------------------------------------------------


def missing_database_url(server_url: str) -> tuple[str, str]:
    name = f"django_cfg_missing_{secrets.token_hex(3)}"  # never created
    return name, f"{server_url.rsplit('/', 1)[0]}/{name}"


@pytest.mark.postgres
def test_a_missing_postgresql_database_says_to_create_it(project) -> None:
    name, url = missing_database_url(POSTGRES_URL)
    project.urls["shop_db"] = url
    code, out, err = run(project, "migrate_all")
    assert code == 1
    assert f'create it (CREATE DATABASE "{name}"), then run manage.py migrate_all' in err
    code, out, err = run(project, "db_status")
    assert code == 1
    assert f'CREATE DATABASE "{name}"' in out
    assert "server is up" not in out + err


@pytest.mark.postgres
@pytest.mark.replica
def test_a_missing_database_with_replicas_does_not_say_check_the_server(project) -> None:
    """With replicas, connection errors are rewritten (replicas.outage): a missing database is
    an answer from a server that is up."""
    name, url = missing_database_url(POSTGRES_URL)
    project.urls["default"] = url
    project.urls["replica"] = missing_database_url(REPLICA_URL)[1]
    code, _, err = run(project, "migrate_all", "--database", "default")
    assert code == 1
    assert "Check that the server is up" not in err
    assert f'create it (CREATE DATABASE "{name}")' in err


# did you mean -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "suggestion"),
    [
        (("migrate_all", "--database", "defualt"), "Did you mean 'default'?"),
        (("dumpdata_all", "-o", "out", "--database", "blog"), "Did you mean 'blog_db'?"),
        (("loaddata_all", "x.json", "--database", "shopdb"), "Did you mean 'shop_db'?"),
        (("repair_relations", "--dry-run", "--database", "shop_bd"), "Did you mean 'shop_db'?"),
    ],
)
def test_a_mistyped_database_gets_a_suggestion(project, args, suggestion) -> None:
    code, _, err = run(project, *args)
    assert code == 1
    assert f"--database {args[-1]}: no such database in DATABASES" in err
    assert suggestion in err


def test_a_mistyped_tenant_gets_a_suggestion(tmp_path: Path) -> None:
    tenants = TenantProject(tmp_path, SQLITE_TEMPLATE, names=["acme", "beta", "gamma"])
    for command in (("migrate_all",), ("dumpdata_all", "-o", str(tmp_path / "out"))):
        code, out = tenants.status(*command, "--tenant", "acm")
        assert code == 1
        assert "CommandError: no tenant 'acm'" in out
        assert "Did you mean 'acme'?" in out
    code, out = tenants.status("migrate_all", "--tenant", "zzzz")
    assert code == 1
    assert "Did you mean" not in out  # nothing close: no guess
