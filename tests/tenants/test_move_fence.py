"""A move is fenced by the database (docs/tenants.md, "Moving a tenant"): writer threads that
never see a request boundary insert and update during moves run by ``manage.py move_tenant``
in other processes; no acknowledged write is missing from the final database. And ``max_open``
bounds the connections threads really hold (counted in ``pg_stat_activity``)."""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from django_cfg import use_tenant
from django_cfg.tenants.registry import current_registry
from tests.support.services import MARIADB_URL, POSTGRES_URL, sibling_url
from tests.support.subprocess_project import wait_for
from tests.tenants.project.scenarios import seed, try_write
from tests.tenants.project_support import (
    TenantProject,
    drop_server_database,
    postgres_tenant_databases,
    server_databases,
    server_rows,
    start_held_move,
)

MOVES = 3
THREADS = 4
AFTER = 20  # acknowledged writes each thread makes after the last move
TITLES = "SELECT title FROM notes_note"


def tenant_row(project: TenantProject) -> tuple[str, str]:
    rows = project.sqlite_rows(
        "default.sqlite3", "SELECT url, state FROM django_cfg_tenant WHERE name = 'acme'"
    )
    assert len(rows) == 1
    url, state = rows[0]
    return url, state


def move_while_writing(
    project: TenantProject, folder: Path, targets: list[str]
) -> tuple[list[tuple[int, str, tuple[str, str]]], dict[str, Any]]:
    """The writers started, then one ``move_tenant`` process per target: each move's exit
    status, output and the tenant's row after it; the writers' report."""
    folder.mkdir()
    writers = project.start(write_throughout, "acme", str(folder), str(THREADS), str(AFTER))
    wait_for(folder / "writing", writers)
    moves = []
    for url in targets:
        status, out = project.status("move_tenant", "acme", "--url", url, "--noinput")
        moves.append((status, out, tenant_row(project)))
    (folder / "stop").touch()
    return moves, project.finish(writers, timeout=300)


def check_no_write_lost(
    moves: list[tuple[int, str, tuple[str, str]]],
    report: dict[str, Any],
    targets: list[str],
    final_titles: Callable[[str], set[str]],
) -> None:
    url = ""  # the tenant's database: the template's until a move succeeds
    for (status, out, row), target in zip(moves, targets, strict=True):
        if status == 0:
            assert "Tenant 'acme' moved from" in out, out
            url = target
        else:  # failed cleanly: on its source, writable (the writers' later writes prove it)
            assert "Tenant 'acme' was not moved:" in out, out
            assert "takes writes again" in out, out
        assert row == (url, ""), out
    assert all(status == 0 for status, _, _ in moves), [out for _, out, _ in moves]
    titles = final_titles(url)
    lost_inserts, lost_updates, after_stop = [], [], []
    for thread in report["threads"]:
        assert not [kind for kind in thread["refused"] if kind.startswith("unexpected")], thread
        renamed = set(thread["renamed"])
        for title in thread["inserted"]:
            if title not in titles and f"{title}-renamed" not in titles:
                lost_inserts.append(title)
        lost_updates += [title for title in renamed if f"{title}-renamed" not in titles]
        after_stop.append(thread["after_stop"])
    inserted = sum(len(thread["inserted"]) for thread in report["threads"])
    updated = sum(len(thread["renamed"]) for thread in report["threads"])
    assert inserted > 0
    assert updated > 0
    assert (lost_inserts, lost_updates) == ([], []), (
        f"{len(lost_inserts)} of {inserted} acknowledged inserts and {len(lost_updates)} of "
        f"{updated} acknowledged updates are missing from the final database"
    )
    # each thread writes to the new database after the moves, with no request boundary
    assert all(n >= AFTER for n in after_stop), after_stop


def test_no_acknowledged_write_is_lost_across_moves_on_sqlite(tmp_path: Path) -> None:
    project = TenantProject(tmp_path, "sqlite:///tenants/{tenant}.sqlite3", recheck_seconds=0.5)
    project.manage("migrate_all", "--verbosity", "0")
    project.manage("create_tenant", "acme")
    targets = [f"sqlite:///moves/{n}/acme.sqlite3" for n in range(1, MOVES + 1)]
    moves, report = move_while_writing(project, tmp_path / "points", targets)

    def final_titles(url: str) -> set[str]:
        relative = url.removeprefix("sqlite:///") if url else "tenants/acme.sqlite3"
        return {title for (title,) in project.sqlite_rows(relative, TITLES)}

    check_no_write_lost(moves, report, targets, final_titles)
    # every superseded database still refuses writes, also from a connection that ignores Django
    for old in ["tenants/acme.sqlite3", *(t.removeprefix("sqlite:///") for t in targets[:-1])]:
        fenced = pytest.raises(sqlite3.IntegrityError, match="tenant 'acme' is being moved")
        with closing(sqlite3.connect(tmp_path / old)) as connection, fenced:
            connection.execute("UPDATE notes_note SET title = 'late'")


@pytest.mark.postgres
def test_no_acknowledged_write_is_lost_across_moves_on_postgresql(tmp_path: Path) -> None:
    prefix = f"_mf{secrets.token_hex(3)}"
    template = sibling_url(POSTGRES_URL, f"{prefix}_{{tenant}}")
    targets = [sibling_url(POSTGRES_URL, f"{prefix}_m{n}") for n in range(1, MOVES + 1)]
    project = TenantProject(tmp_path, template, recheck_seconds=0.5)
    project.manage("migrate_all", "--verbosity", "0")
    try:
        project.manage("create_tenant", "acme")
        moves, report = move_while_writing(project, tmp_path / "points", targets)

        def final_titles(url: str) -> set[str]:
            rows = server_rows(url or template.replace("{tenant}", "acme"), TITLES)
            return {title for (title,) in rows}

        check_no_write_lost(moves, report, targets, final_titles)
        for old in [template.replace("{tenant}", "acme"), *targets[:-1]]:
            with pytest.raises(Exception, match="tenant 'acme' is being moved"):
                server_rows(old, "UPDATE notes_note SET title = 'late' RETURNING id")
    finally:
        project.manage("drop_tenant", "acme", "--drop-database", "--noinput", check=False)
        for url in [template.replace("{tenant}", "acme"), *targets]:
            drop_server_database(url)
    assert not {url.rpartition("/")[2] for url in targets} & server_databases(POSTGRES_URL)


@pytest.mark.postgres
def test_max_open_bounds_the_backends_threads_hold(tmp_path: Path) -> None:
    """max_open=2, 10 tenants, 8 threads with no request boundary: once each thread has made
    one more routed query, the backends on the tenant databases are at most max_open per
    thread (the tenants open in the process), not one per tenant each thread ever used."""
    names = [f"t{n}" for n in range(10)]
    with postgres_tenant_databases("mo", names) as (template, prefix):
        project = TenantProject(tmp_path, template, names=names, max_open=2)
        project.manage("migrate_all", "--verbosity", "0")
        out = project.scenario(held_backends, prefix, "8", *names)
    assert len(out["open_after"]) == 2
    assert out["after_one_more_query"] <= 2 * 8, out


def test_abort_after_a_killed_move_removes_the_fence(tmp_path: Path) -> None:
    """kill -9 of a move holding before its copy: the source is fenced and the tenant marked;
    ``move_tenant --abort`` removes the fence and the tenant takes writes on its source."""
    project = TenantProject(tmp_path, "sqlite:///tenants/{tenant}.sqlite3", recheck_seconds=0.5)
    project.manage("migrate_all", "--verbosity", "0")
    project.manage("create_tenant", "acme")
    mover = start_held_move(project, tmp_path / "points")
    mover.kill()
    mover.communicate()
    source = tmp_path / "tenants" / "acme.sqlite3"
    fenced = pytest.raises(sqlite3.IntegrityError, match="tenant 'acme' is being moved")
    with closing(sqlite3.connect(source)) as connection, fenced:
        connection.execute("INSERT INTO notes_note (title) VALUES ('bare driver')")
    refused = project.scenario(try_write, "acme", "while-stuck")
    assert "tenant 'acme' is read-only while manage.py move_tenant" in refused["write"]
    out = project.manage("move_tenant", "acme", "--abort")
    assert "Tenant 'acme' takes writes again on sqlite:///tenants/acme.sqlite3" in out
    assert tenant_row(project) == ("", "")
    assert project.scenario(try_write, "acme", "unstuck")["write"] == "written"
    with closing(sqlite3.connect(source)) as connection:
        connection.execute("INSERT INTO notes_note (title) VALUES ('bare driver')")
        connection.commit()
    titles = {title for (title,) in project.sqlite_rows("tenants/acme.sqlite3", TITLES)}
    assert titles == {"unstuck", "bare driver"}


@pytest.mark.mariadb
def test_a_mariadb_source_is_fenced_after_its_move(tmp_path: Path) -> None:
    """A connection opened to the MariaDB source before the move (a bare driver's, ignoring
    Django) has its write refused once the move has fenced the source."""
    import MySQLdb

    from django_cfg import DatabaseConfig

    template = sibling_url(MARIADB_URL, f"_mf{secrets.token_hex(3)}_{{tenant}}")
    source = template.replace("{tenant}", "acme")
    project = TenantProject(tmp_path, template, recheck_seconds=0.5)
    project.manage("migrate_all", "--verbosity", "0")
    try:
        project.manage("create_tenant", "acme")
        project.scenario(seed, "acme")
        database = DatabaseConfig.from_url(source)
        early = MySQLdb.connect(
            host=database.host, port=int(database.port or 3306), user=database.user,
            database=database.name, autocommit=True,
        )  # fmt: skip
        with closing(early):
            early.cursor().execute("INSERT INTO notes_note (title) VALUES ('before')")
            out = project.manage("move_tenant", "acme", "--url", "sqlite:///moved/acme.sqlite3",
                                 "--noinput")  # fmt: skip
            assert "3 tables, 8 rows copied and verified" in out
            with pytest.raises(MySQLdb.OperationalError, match="tenant 'acme' is being moved"):
                early.cursor().execute("UPDATE notes_note SET title = 'late'")
        titles = {title for (title,) in project.sqlite_rows("moved/acme.sqlite3", TITLES)}
        assert "before" in titles
    finally:
        project.manage("drop_tenant", "acme", "--noinput", check=False)
        drop_server_database(source)
    assert source.partition("?")[0].rpartition("/")[2] not in server_databases(MARIADB_URL)


# Scenarios, run in a process of the tenant project (TenantProject.scenario)


def write_throughout(args: list[str]) -> dict[str, Any]:
    """THREADS threads that never see a request boundary (no request signals, no
    close_removed_connections), each inside use_tenant(NAME) throughout: every round inserts a
    note and renames the oldest note it inserted and has not renamed yet (an UPDATE). A write
    is acknowledged when its statement returned without error (the rename: 1 row). After
    FOLDER/stop, each thread goes on until it has AFTER acknowledged writes more (at most 1,000
    rounds more, 50,000 in all). FOLDER/writing: every thread has run its first round."""
    import threading

    from django.db import DatabaseError

    from tests.tenants.project.notes.models import Note

    name, folder_text, threads_text, after_text = args
    folder, after = Path(folder_text), int(after_text)
    started = threading.Barrier(int(threads_text) + 1)

    def worker(number: int) -> dict[str, Any]:
        out: dict[str, Any] = {"inserted": [], "renamed": [], "refused": {}, "after_stop": 0}
        pending: list[tuple[int, str]] = []
        stop_seen, rounds_after = False, 0
        with use_tenant(name):
            for round_ in range(50_000):
                if not stop_seen and (folder / "stop").exists():
                    stop_seen = True
                acknowledged = 0
                try:
                    title = f"w{number}-{round_}"
                    pending.append((Note.objects.create(title=title).pk, title))
                    out["inserted"].append(title)
                    acknowledged += 1
                    if pending:
                        pk, old = pending[0]
                        if Note.objects.filter(pk=pk, title=old).update(title=f"{old}-renamed"):
                            out["renamed"].append(old)
                            acknowledged += 1
                        pending.pop(0)  # renamed, or gone (a lost insert: the test finds it)
                except Exception as error:  # refused: not acknowledged
                    kind = type(error).__name__
                    if not isinstance(error, DatabaseError):
                        kind = f"unexpected {kind}: {error}"
                    out["refused"][kind] = out["refused"].get(kind, 0) + 1
                    time.sleep(0.005)
                if round_ == 0:
                    started.wait(60)
                if stop_seen:
                    out["after_stop"] += acknowledged
                    rounds_after += 1
                    if out["after_stop"] >= after or rounds_after >= 1000:
                        break
        return out

    results: list[dict[str, Any]] = [{} for _ in range(int(threads_text))]

    def run_worker(number: int) -> None:
        results[number] = worker(number)

    threads = [threading.Thread(target=run_worker, args=(n,)) for n in range(len(results))]
    for thread in threads:
        thread.start()
    started.wait(60)
    (folder / "writing").touch()
    for thread in threads:
        thread.join(600)
    return {"threads": results}


def held_backends(args: list[str]) -> dict[str, Any]:
    """THREADS threads with no request boundary each query every tenant of NAMES once (max_open
    closes the least recently used); then each makes one more query of the last tenant. The
    PostgreSQL backends on databases named PREFIX* after each phase, counted from another
    connection (to the server's ``postgres`` database)."""
    import threading

    import psycopg

    from tests.tenants.project.notes.models import Note

    prefix, threads_text, *names = args
    registry = current_registry()
    assert registry is not None
    server = registry.database(names[0])  # the tenants' server

    def backends() -> int:
        with psycopg.connect(
            host=server.host, port=server.port, user=server.user, dbname="postgres"
        ) as connection:
            row = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE %s",
                (prefix + "%",),
            ).fetchone()
            assert row is not None
            return int(row[0])

    count = int(threads_text)
    phase_one, counted = threading.Barrier(count + 1), threading.Event()
    phase_two = threading.Barrier(count + 1)

    def worker() -> None:
        for name in names:
            with use_tenant(name):
                Note.objects.count()
        phase_one.wait(60)
        counted.wait(60)
        with use_tenant(names[-1]):
            Note.objects.count()
        phase_two.wait(60)

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    phase_one.wait(60)
    out: dict[str, Any] = {"after_all_tenants": backends(), "open": list(registry.open)}
    counted.set()
    phase_two.wait(60)
    out["after_one_more_query"] = backends()
    out["open_after"] = list(registry.open)
    for thread in threads:
        thread.join(60)
    return out
