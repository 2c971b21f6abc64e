"""``move_tenant``: copy, verify, switch, read-only meanwhile (docs/tenants.md, "Moving a
tenant"): which database holds the rows afterwards, read without Django."""

from __future__ import annotations

import datetime
import hashlib
import secrets
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from django_cfg import UnknownTenantError, use_tenant
from django_cfg.tenants.registry import current_registry
from tests.support.services import MARIADB_URL, POSTGRES_URL, sibling_url
from tests.support.subprocess_project import wait_for
from tests.tenants.project.scenarios import (
    seed,
    tenant_titles,
    tenant_where,
    try_write,
    write_or_refusal,
)
from tests.tenants.project_support import (
    TenantProject,
    drop_server_database,
    seeded_acme,
    server_databases,
    server_rows,
    start_held_move,
)

TEMPLATE = "sqlite:///tenants/{tenant}.sqlite3"
NOTES = "SELECT id, title, tag_id FROM notes_note ORDER BY id"
TAGS = "SELECT id, name FROM notes_tag ORDER BY id"


def tenant_row(project: TenantProject, name: str) -> tuple[str, str, int]:
    rows = project.sqlite_rows(
        "default.sqlite3",
        f"SELECT url, state, version FROM django_cfg_tenant WHERE name = '{name}'",
    )
    assert len(rows) == 1
    url, state, version = rows[0]
    return url, state, version


@pytest.fixture
def acme(tmp_path: Path) -> TenantProject:
    """Tenant acme in the tenants table, on a SQLite file, with tags and notes (a key gap)."""
    return seeded_acme(tmp_path)


def test_sqlite_file_to_sqlite_file_keeps_keys_and_drops_the_source(
    acme: TenantProject, tmp_path: Path
) -> None:
    notes = acme.sqlite_rows("tenants/acme.sqlite3", NOTES)
    tags = acme.sqlite_rows("tenants/acme.sqlite3", TAGS)
    assert [pk for pk, _, _ in notes] == [1, 2, 4, 5]  # the gap the copy must keep
    out = acme.manage(
        "move_tenant", "acme", "--url", "sqlite:///moved/acme.sqlite3", "--noinput", "--drop-source"
    )
    assert "Tenant 'acme' moved from sqlite:///tenants/acme.sqlite3 to sqlite:///moved/acme" in out
    assert "3 tables, 7 rows copied and verified" in out
    assert "notes_note: 4 rows" in out
    assert "notes_tag: 2 rows" in out
    assert "django_cfg_deleteintent: 1 row\n" in out
    assert "Dropped sqlite:///tenants/acme.sqlite3." in out
    assert acme.sqlite_rows("moved/acme.sqlite3", NOTES) == notes
    assert acme.sqlite_rows("moved/acme.sqlite3", TAGS) == tags
    assert not (tmp_path / "tenants" / "acme.sqlite3").exists()
    assert tenant_row(acme, "acme") == ("sqlite:///moved/acme.sqlite3", "", 2)
    # A new process writes to the new file; the next key follows the copied ones.
    after = acme.scenario(try_write, "acme", "after-move")
    assert after["write"] == "written"
    assert after["name"] == str(tmp_path / "moved" / "acme.sqlite3")
    assert acme.sqlite_rows("moved/acme.sqlite3", NOTES)[-1] == (6, "after-move", None)


def test_refused_moves(acme: TenantProject, tmp_path: Path) -> None:
    same = acme.manage("move_tenant", "acme", "--url", TEMPLATE.format(tenant="acme"), check=False)
    assert "Tenant 'acme' already lives in sqlite:///tenants/acme.sqlite3." in same
    unknown = acme.manage("move_tenant", "nosuch", "--url", "sqlite:///x.sqlite3", check=False)
    assert "no tenant 'nosuch'" in unknown
    missing = acme.manage("move_tenant", "acme", "--noinput", check=False)
    assert "give the new database with --url URL" in missing
    asked = acme.manage(
        "move_tenant", "acme", "--url", "sqlite:///m.sqlite3", stdin="no\n", check=False
    )
    assert "Move tenant 'acme' from sqlite:///tenants/acme.sqlite3 to sqlite:///m.sqlite3?" in asked
    assert "Cancelled." in asked
    assert tenant_row(acme, "acme") == ("", "", 0)  # not marked
    # a target that already holds rows is refused, and kept as it was
    occupied = TenantProject(tmp_path, "sqlite:///occupied/{tenant}.sqlite3", recheck_seconds=0.5)
    occupied.manage("migrate_all", "--tenant", "acme", "--verbosity", "0")
    with closing(sqlite3.connect(tmp_path / "occupied" / "acme.sqlite3")) as connection:
        connection.execute("INSERT INTO notes_tag (id, name) VALUES (7, 'there before')")
        connection.commit()
    refused = acme.manage(
        "move_tenant", "acme", "--url", "sqlite:///occupied/acme.sqlite3", "--noinput", check=False
    )
    assert "already holds rows in notes_tag: move to an empty database" in refused
    assert "existed before and was kept" in refused
    assert acme.sqlite_rows("occupied/acme.sqlite3", TAGS) == [(7, "there before")]
    assert tenant_row(acme, "acme") == ("", "", 2)  # marked, then given back: writable
    fixed = TenantProject(tmp_path / "fixed", TEMPLATE, names=["acme"])
    fixed.manage("migrate_all", "--verbosity", "0")
    no_table = fixed.manage("move_tenant", "acme", "--url", "sqlite:///x.sqlite3", check=False)
    assert "move_tenant needs the tenants table" in no_table
    assert "TenantsConfig.names" in no_table


def test_writes_are_refused_during_the_move_and_a_running_process_follows_it(
    acme: TenantProject, tmp_path: Path
) -> None:
    """A process that opened acme before the move: its write during the move is refused with a
    message naming the tenant and the move; after the switch it reads and writes the new file.
    A process started during the move is refused too."""
    folder = tmp_path / "points"
    folder.mkdir()
    follower = acme.start(follow_the_move, "acme", str(folder))
    wait_for(folder / "opened", follower)
    mover = start_held_move(acme, folder)  # marked read-only, grace waited, copy not started
    assert tenant_row(acme, "acme")[1] == "moving"
    fresh = acme.scenario(try_write, "acme", "fresh-during")
    assert fresh["write"] == (
        "ReadOnlyDatabaseError: tenant 'acme' is read-only while manage.py move_tenant moves "
        "its database ('tenant_acme'); writes are refused until the move ends, then they go "
        "to the tenant's new database: INSERT refused."
    )
    assert fresh["titles"] == ["acme-0", "acme-1", "acme-3", "acme-4", "follower-before"]
    wait_for(folder / "wrote", follower)
    (folder / "release").touch()
    moved = acme.finish(mover)
    assert moved["ok"], moved
    (folder / "moved").touch()
    seen = acme.finish(follower)
    assert seen["before"] == "written"
    assert seen["name"] == str(tmp_path / "tenants" / "acme.sqlite3")
    assert seen["during"].startswith("ReadOnlyDatabaseError: tenant 'acme' is read-only while")
    assert "follower-during" not in seen["during_titles"]
    assert seen["during_where"]["name"] == str(tmp_path / "tenants" / "acme.sqlite3")
    assert seen["after"] == "written"
    assert seen["after_where"]["name"] == str(tmp_path / "moved" / "acme.sqlite3")
    expected = ["acme-0", "acme-1", "acme-3", "acme-4", "follower-after", "follower-before"]
    assert seen["after_titles"] == expected
    titles = acme.sqlite_rows("moved/acme.sqlite3", "SELECT title FROM notes_note")
    assert sorted(title for (title,) in titles) == expected
    old = acme.sqlite_rows("tenants/acme.sqlite3", "SELECT title FROM notes_note")
    assert "follower-after" not in {title for (title,) in old}  # nothing written to the source


def test_a_failed_verification_leaves_the_tenant_on_its_source_writable(
    acme: TenantProject, tmp_path: Path
) -> None:
    """A row deleted from the copy behind Django's back while the move holds after its copy
    (the fenced source refuses such a write: see test_move_fence.py): the counts differ, the
    move gives up, removes the fence, the tenant stays where it was and takes writes."""
    folder = tmp_path / "points"
    mover = start_held_move(acme, folder, "verify")
    assert (tmp_path / "moved" / "acme.sqlite3").exists()
    with closing(sqlite3.connect(tmp_path / "moved" / "acme.sqlite3")) as connection:
        connection.execute("DELETE FROM notes_note WHERE id = 5")
        connection.commit()
    (folder / "release").touch()
    result = acme.finish(mover)
    assert not result["ok"]
    assert result["error"] == (
        "Tenant 'acme' was not moved: the copy differs from the source: notes_note: 4 rows on "
        "the source, 3 copied. It stays on sqlite:///tenants/acme.sqlite3 and takes writes "
        "again (running processes within 0.5s); the new database sqlite:///moved/acme.sqlite3 "
        "was dropped."
    )
    assert not (tmp_path / "moved" / "acme.sqlite3").exists()
    url, state, _version = tenant_row(acme, "acme")
    assert (url, state) == ("", "")
    after = acme.scenario(try_write, "acme", "after-failure")
    assert after["write"] == "written"
    titles = acme.sqlite_rows("tenants/acme.sqlite3", "SELECT title FROM notes_note")
    assert ("after-failure",) in titles
    with closing(sqlite3.connect(tmp_path / "tenants" / "acme.sqlite3")) as connection:
        connection.execute("INSERT INTO notes_note (id, title) VALUES (9, 'no fence left')")
        connection.commit()  # the fence is gone: no trigger refuses it
    not_moving = acme.manage("move_tenant", "acme", "--abort", check=False)
    assert "Tenant 'acme' is not being moved." in not_moving


def test_a_move_to_a_server_that_does_not_answer_exits_1(acme: TenantProject) -> None:
    status, out = acme.status(
        "move_tenant", "acme", "--url", "postgresql://postgres@127.0.0.1:1/nowhere", "--noinput"
    )
    assert status == 1
    assert "CommandError: Tenant 'acme' was not moved: OperationalError" in out
    assert "It stays on sqlite:///tenants/acme.sqlite3 and takes writes again" in out
    assert "the new database postgresql://postgres@127.0.0.1:1/nowhere was not created." in out
    assert tenant_row(acme, "acme")[:2] == ("", "")
    assert acme.scenario(try_write, "acme", "still-here")["write"] == "written"


def test_abort_makes_a_tenant_a_killed_move_left_read_only_writable(acme: TenantProject) -> None:
    with closing(sqlite3.connect(acme.root / "default.sqlite3")) as connection:
        connection.execute("UPDATE django_cfg_tenant SET state = 'moving', version = 7")
        connection.commit()
    refused = acme.scenario(try_write, "acme", "while-stuck")
    assert "tenant 'acme' is read-only while manage.py move_tenant" in refused["write"]
    again = acme.manage("move_tenant", "acme", "--url", "sqlite:///m/acme.sqlite3", check=False)
    assert "Tenant 'acme' is already being moved." in again
    assert "manage.py move_tenant acme --abort" in again
    out = acme.manage("move_tenant", "acme", "--abort")
    assert "Tenant 'acme' takes writes again on sqlite:///tenants/acme.sqlite3" in out
    assert tenant_row(acme, "acme") == ("", "", 8)
    assert acme.scenario(try_write, "acme", "unstuck")["write"] == "written"


def test_a_running_process_sees_a_drop_in_another_process(acme: TenantProject) -> None:
    out = acme.scenario(dropped, "acme")
    assert out["before"] == "written"
    assert out["after"] == (
        "no tenant 'acme': it is not in the tenants table (create it with: "
        "manage.py create_tenant acme)."
    )
    assert out["open"] == []


def test_an_open_transaction_is_not_switched_under_it(acme: TenantProject) -> None:
    out = acme.scenario(atomic_across_mark, "acme")
    assert "in-transaction-1" in out["titles"]
    assert "in-transaction-2" in out["titles"]  # committed: the transaction was not broken
    assert out["after"].startswith("ReadOnlyDatabaseError: tenant 'acme' is read-only while")
    assert "after-transaction" not in out["titles"]


@pytest.mark.postgres
def test_sqlite_file_to_postgresql(acme: TenantProject, tmp_path: Path) -> None:
    url = sibling_url(POSTGRES_URL, f"_mv{secrets.token_hex(3)}_acme")
    database = url.partition("?")[0].rpartition("/")[2]
    notes = acme.sqlite_rows("tenants/acme.sqlite3", NOTES)
    tags = acme.sqlite_rows("tenants/acme.sqlite3", TAGS)
    try:
        out = acme.manage("move_tenant", "acme", "--url", url, "--noinput", "--batch-size", "3")
        assert "3 tables, 7 rows copied and verified" in out  # batches of 3
        assert server_rows(url, NOTES) == notes
        assert server_rows(url, TAGS) == tags
        assert tenant_row(acme, "acme") == (url, "", 2)
        after = acme.scenario(try_write, "acme", "on-postgres")
        assert (after["write"], after["name"]) == ("written", database)
        # the sequence was set past the copied keys (else: a duplicate key 1)
        assert server_rows(url, NOTES)[-1] == (6, "on-postgres", None)
        assert (tmp_path / "tenants" / "acme.sqlite3").exists()  # no --drop-source: kept
    finally:
        acme.manage("drop_tenant", "acme", "--drop-database", "--noinput", check=False)
    assert database not in server_databases(url)


@pytest.mark.postgres
@pytest.mark.mariadb
def test_postgresql_to_mariadb_dropping_the_source(tmp_path: Path) -> None:
    suffix = secrets.token_hex(3)
    template = sibling_url(POSTGRES_URL, f"_mv{suffix}_{{tenant}}")
    source = template.replace("{tenant}", "acme")
    target = sibling_url(MARIADB_URL, f"_mv{suffix}_acme")
    source_db = source.partition("?")[0].rpartition("/")[2]
    target_db = target.partition("?")[0].rpartition("/")[2]
    project = TenantProject(tmp_path, template, recheck_seconds=0.5)
    project.manage("migrate_all", "--verbosity", "0")
    try:
        project.manage("create_tenant", "acme")
        project.scenario(seed, "acme")
        notes = server_rows(source, NOTES)
        assert [pk for pk, _, _ in notes] == [1, 2, 4, 5]
        out = project.manage("move_tenant", "acme", "--url", target, "--noinput", "--drop-source")
        assert "3 tables, 7 rows copied and verified" in out
        assert server_rows(target, NOTES) == notes
        assert server_rows(target, TAGS) == [(1, "tag0"), (2, "tag1")]
        assert server_rows(target, "SELECT token, created FROM django_cfg_deleteintent") == [
            ("seeded", datetime.datetime(2026, 1, 2, 3, 4, 5, 123456))  # UTC, microseconds kept
        ]
        assert source_db not in server_databases(source)
        after = project.scenario(try_write, "acme", "on-mariadb")
        assert (after["write"], after["name"]) == ("written", target_db)
        assert server_rows(target, NOTES)[-1] == (6, "on-mariadb", None)
    finally:
        project.manage("drop_tenant", "acme", "--drop-database", "--noinput", check=False)
        drop_server_database(source)
    assert target_db not in server_databases(target)


@pytest.mark.postgres
def test_no_password_is_stored_in_the_tenants_table_or_shown(tmp_path: Path) -> None:
    """A URL with a password is refused; without one, the template's password applies on the
    template's server and TenantsConfig.passwords elsewhere (trust authentication ignores
    both: the test reads what the connection was given)."""
    secret, other = "Pw-" + secrets.token_hex(8), "Other-" + secrets.token_hex(8)
    server, _, database = POSTGRES_URL.partition("?")[0].rpartition("/")
    with_password = server.replace("://postgres@", f"://postgres:{secret}@", 1)
    prefix = f"{database}_pw{secrets.token_hex(3)}"
    project = TenantProject(
        tmp_path,
        f"{with_password}/{prefix}_{{tenant}}",
        recheck_seconds=0.5,
        passwords={"postgres@localhost": other},
    )
    outputs = [project.manage("migrate_all", "--verbosity", "0")]
    try:
        outputs.append(project.manage("create_tenant", "acme"))
        project.scenario(seed, "acme")
        for command in (("create_tenant", "big"), ("move_tenant", "acme", "--noinput")):
            refused = project.manage(*command, "--url", f"{with_password}/{prefix}_x", check=False)
            outputs.append(refused)
            assert "postgres:***@" in refused
            assert "holds a password: it would be stored in plain text in the tenants" in refused
            assert "TenantsConfig.passwords['postgres@127.0.0.1']" in refused
        same_server = f"{server}/{prefix}_moved"
        outputs.append(
            project.manage(
                "move_tenant", "acme", "--url", same_server, "--noinput", "--drop-source"
            )
        )
        here = project.scenario(try_write, "acme", "same-server")
        assert here["password_sha256"] == hashlib.sha256(secret.encode()).hexdigest()
        elsewhere = f"postgresql://postgres@localhost:{server.rpartition(':')[2]}/{prefix}_local"
        outputs.append(
            project.manage("move_tenant", "acme", "--url", elsewhere, "--noinput", "--drop-source")
        )
        there = project.scenario(try_write, "acme", "elsewhere")
        assert (there["write"], there["host"]) == ("written", "localhost")
        assert there["password_sha256"] == hashlib.sha256(other.encode()).hexdigest()
        assert server_rows(elsewhere, "SELECT title FROM notes_note ORDER BY id")[-2:] == [
            ("same-server",),
            ("elsewhere",),
        ]
        table = project.sqlite_rows("default.sqlite3", "SELECT * FROM django_cfg_tenant")
        assert [row[2] for row in table] == [elsewhere]
        for text in [str(table), *outputs]:
            assert secret not in text
            assert other not in text
    finally:
        project.manage("drop_tenant", "acme", "--drop-database", "--noinput", check=False)
    assert not {f"{prefix}_acme", f"{prefix}_moved", f"{prefix}_local"} & server_databases(
        POSTGRES_URL
    )


@pytest.mark.parametrize(
    "server_url",
    [
        pytest.param(POSTGRES_URL, marks=pytest.mark.postgres, id="postgresql"),
        pytest.param(MARIADB_URL, marks=pytest.mark.mariadb, id="mariadb"),
    ],
)
def test_a_tenant_being_moved_refuses_writes_on_each_server(
    tmp_path: Path, server_url: str
) -> None:
    """The database itself refuses (read-only session), with the tenant's message."""
    template = sibling_url(server_url, f"_ro{secrets.token_hex(3)}_{{tenant}}")
    project = TenantProject(tmp_path, template, recheck_seconds=0.5)
    project.manage("migrate_all", "--verbosity", "0")
    try:
        project.manage("create_tenant", "acme")
        with closing(sqlite3.connect(tmp_path / "default.sqlite3")) as connection:
            connection.execute("UPDATE django_cfg_tenant SET state = 'moving', version = 1")
            connection.commit()
        refused = project.scenario(try_write, "acme", "while-moving")
        assert refused["write"] == (
            "ReadOnlyDatabaseError: tenant 'acme' is read-only while manage.py move_tenant "
            "moves its database ('tenant_acme'); writes are refused until the move ends, then "
            "they go to the tenant's new database: INSERT refused."
        )
        project.manage("move_tenant", "acme", "--abort")
        assert project.scenario(try_write, "acme", "after")["write"] == "written"
        url = template.replace("{tenant}", "acme")
        assert server_rows(url, "SELECT title FROM notes_note") == [("after",)]
    finally:
        project.manage("drop_tenant", "acme", "--drop-database", "--noinput", check=False)


# Scenarios, run in a process of the tenant project (TenantProject.scenario)


def follow_the_move(args: list[str]) -> dict[str, Any]:
    """A process that opened the tenant before a move: a write while the move holds (FOLDER/held
    .. FOLDER/wrote), then, after FOLDER/moved and recheck_seconds, a write and read."""
    name, folder_text = args
    folder = Path(folder_text)
    registry = current_registry()
    assert registry is not None
    out: dict[str, Any] = {
        "before": write_or_refusal(name, "follower-before"),
        **tenant_where(name),
    }
    (folder / "opened").touch()
    wait_for(folder / "held")
    out["during"] = write_or_refusal(name, "follower-during")
    out["during_titles"] = tenant_titles(name)
    out["during_where"] = tenant_where(name)
    (folder / "wrote").touch()
    wait_for(folder / "moved")
    time.sleep(registry.recheck_seconds + 0.1)
    out["after"] = write_or_refusal(name, "follower-after")
    out["after_titles"] = tenant_titles(name)
    out["after_where"] = tenant_where(name)
    return out


def dropped(args: list[str]) -> dict[str, Any]:
    """A tenant this process has open, dropped by another process: seen after recheck_seconds."""
    import os
    import subprocess
    import sys

    from tests.tenants.project.notes.models import Note

    (name,) = args
    registry = current_registry()
    assert registry is not None
    out: dict[str, Any] = {"before": write_or_refusal(name, "before-drop")}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.tenants.project.run",
            "manage",
            "drop_tenant",
            name,
            "--noinput",
        ],
        check=True,
        env=os.environ,
        capture_output=True,
    )
    time.sleep(registry.recheck_seconds + 0.1)
    try:
        with use_tenant(name):
            Note.objects.count()
    except UnknownTenantError as error:
        out["after"] = str(error)
    out["open"] = list(registry.open)
    return out


def atomic_across_mark(args: list[str]) -> dict[str, Any]:
    """A transaction on the tenant open while its row is marked as being moved (by SQL on
    default.sqlite3 here): it is not broken; the tenant is reopened read-only after it."""
    import sqlite3
    from contextlib import closing

    from django.conf import settings
    from django.db import transaction

    from tests.tenants.project.notes.models import Note

    (name,) = args
    registry = current_registry()
    assert registry is not None
    alias = registry.alias_for(name)
    with use_tenant(name), transaction.atomic(using=alias):
        Note.objects.create(title="in-transaction-1")
        with closing(sqlite3.connect(settings.DATABASES["default"]["NAME"])) as connection:
            connection.execute("UPDATE django_cfg_tenant SET state = 'moving', version = 99")
            connection.commit()
        time.sleep(registry.recheck_seconds + 0.1)
        Note.objects.create(title="in-transaction-2")  # due, but not under the transaction
    return {"after": write_or_refusal(name, "after-transaction"), "titles": tenant_titles(name)}
