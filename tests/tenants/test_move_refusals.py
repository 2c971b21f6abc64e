"""``move_tenant`` refuses a target that is (or was) another tenant's database, before it
touches it (docs/tenants.md, "Moving a tenant"): which database holds the rows afterwards, and
which one still refuses writes, read without Django."""

from __future__ import annotations

import secrets
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.support.services import MARIADB_URL, POSTGRES_URL, sibling_url
from tests.tenants.project_support import (
    TenantProject,
    drop_server_database,
    seeded_acme,
    server_databases,
    start_held_move,
)

TEMPLATE = "sqlite:///tenants/{tenant}.sqlite3"
NOTES = "SELECT title FROM notes_note ORDER BY id"


def bare_write(path: Path) -> str:
    """An INSERT into ``path``'s notes with the bare driver: "accepted" or why it was refused."""
    with closing(sqlite3.connect(path)) as connection:
        try:
            connection.execute("INSERT INTO notes_note (title) VALUES ('stale process')")
            connection.commit()
        except sqlite3.DatabaseError as error:
            return f"refused: {error}"
    return "accepted"


def test_move_onto_another_tenants_database_is_refused(tmp_path: Path) -> None:
    """An operator's typo in --url: beta, just created (migrated, no rows yet), looked like a
    valid target because only a database with rows was refused; afterwards both tenants routed
    to one file and beta's customer read acme's notes."""
    project = seeded_acme(tmp_path, "beta")  # beta: a new customer, migrated, no rows yet
    acme_titles = project.sqlite_rows("tenants/acme.sqlite3", NOTES)
    assert acme_titles  # acme has notes, beta none
    assert project.sqlite_rows("tenants/beta.sqlite3", NOTES) == []

    code, out = project.status(
        "move_tenant", "acme", "--url", "sqlite:///tenants/beta.sqlite3", "--noinput"
    )

    # Before: exit 0, "Tenant 'acme' moved ... to sqlite:///tenants/beta.sqlite3".
    beta_rows = project.sqlite_rows("tenants/beta.sqlite3", NOTES)
    assert (code, beta_rows) == (1, []), out
    assert "beta" in out
    assert "is the database of tenant 'beta'" in out, out
    assert project.sqlite_rows("tenants/acme.sqlite3", NOTES) == acme_titles


def test_another_tenants_database_is_known_by_what_it_is(tmp_path: Path) -> None:
    """The same file spelled another way, and another tenant's replica, are refused too."""
    replicas = ["sqlite:///replicas/{tenant}.sqlite3"]
    project = TenantProject(tmp_path, TEMPLATE, recheck_seconds=0.5, replica_urls=replicas)
    project.manage("migrate_all", "--verbosity", "0")
    project.manage("create_tenant", "acme")
    project.manage("create_tenant", "beta")

    spelled = "sqlite:///moved/../tenants/beta.sqlite3"
    code, out = project.status("move_tenant", "acme", "--url", spelled, "--noinput")
    assert code == 1, out
    assert "is the database of tenant 'beta';" in out, out
    code, out = project.status(
        "move_tenant", "acme", "--url", "sqlite:///replicas/beta.sqlite3", "--noinput"
    )
    assert code == 1, out
    assert "is the database of tenant 'beta' (replica 1)" in out, out
    row = "SELECT url, state, version FROM django_cfg_tenant WHERE name = 'acme'"
    assert project.sqlite_rows("default.sqlite3", row) == [("", "", 0)]  # refused before marking


def test_a_refused_move_leaves_the_fence_of_a_tenant_being_moved(tmp_path: Path) -> None:
    """``move_tenant beta --url <acme's database>`` (a typo) while acme is being moved: the
    command used to remove the fence of its target (meant for a database an earlier move left
    fenced) before it found the target holds rows, so acme's source, mid-move, took a write from
    a bare driver connection again (15 triggers before, 0 after)."""
    project = seeded_acme(tmp_path, "beta")
    folder = tmp_path / "points"
    mover = start_held_move(project, folder)  # acme: fenced, read-only, copy not started
    try:
        code, out = project.status(
            "move_tenant", "beta", "--url", "sqlite:///tenants/acme.sqlite3", "--noinput"
        )
        assert code == 1, out

        outcome = bare_write(tmp_path / "tenants" / "acme.sqlite3")
    finally:
        (folder / "release").touch()
        project.finish(mover)
    assert outcome.startswith("refused: tenant 'acme' is being moved"), outcome


def test_a_target_fenced_by_an_earlier_move(tmp_path: Path) -> None:
    """An empty database an earlier move of the same tenant left fenced is unfenced and used;
    one fenced by another tenant's move (its superseded source, where a process of that tenant
    that has not seen the switch may still write) is refused and keeps its fence."""
    project = TenantProject(tmp_path, TEMPLATE, recheck_seconds=0.5)
    project.manage("migrate_all", "--verbosity", "0")
    project.manage("create_tenant", "acme")  # no rows: its old database stays empty
    project.manage("create_tenant", "beta")
    project.manage("move_tenant", "acme", "--url", "sqlite:///moved/acme.sqlite3", "--noinput")
    project.manage("move_tenant", "beta", "--url", "sqlite:///moved/beta.sqlite3", "--noinput")
    old_acme, old_beta = (
        tmp_path / "tenants" / "acme.sqlite3",
        tmp_path / "tenants" / "beta.sqlite3",
    )
    assert bare_write(old_beta).startswith("refused: tenant 'beta' is being moved")

    back = project.manage(
        "move_tenant", "acme", "--url", TEMPLATE.format(tenant="acme"), "--noinput"
    )
    assert "Tenant 'acme' moved from sqlite:///moved/acme.sqlite3" in back
    assert bare_write(old_acme) == "accepted"  # its own fence was removed

    code, out = project.status(
        "move_tenant", "acme", "--url", "sqlite:///tenants/beta.sqlite3", "--noinput"
    )
    assert code == 1, out
    assert "is fenced by a move of another tenant" in out, out
    assert bare_write(old_beta).startswith("refused: tenant 'beta' is being moved")
    assert project.sqlite_rows("tenants/beta.sqlite3", NOTES) == []


@pytest.mark.parametrize(
    "server",
    [
        pytest.param(POSTGRES_URL, marks=pytest.mark.postgres, id="postgresql"),
        pytest.param(MARIADB_URL, marks=pytest.mark.mariadb, id="mariadb"),
    ],
)
def test_a_target_fenced_by_an_earlier_move_on_a_server(tmp_path: Path, server: str) -> None:
    """The fence's owner is read from the server's triggers (pg_trigger, information_schema):
    the same tenant's fence is removed, another tenant's refused."""
    suffix = secrets.token_hex(3)
    template = sibling_url(server, f"_mf{suffix}_{{tenant}}")
    moved = {name: sibling_url(server, f"_mf{suffix}_moved_{name}") for name in ("acme", "beta")}
    project = TenantProject(tmp_path, template, recheck_seconds=0.5)
    project.manage("migrate_all", "--verbosity", "0")
    try:
        project.manage("create_tenant", "acme")  # no rows
        project.manage("create_tenant", "beta")
        for name in ("acme", "beta"):
            project.manage("move_tenant", name, "--url", moved[name], "--noinput")
        back = template.replace("{tenant}", "acme")
        out = project.manage("move_tenant", "acme", "--url", back, "--noinput")
        assert "Tenant 'acme' moved from" in out, out
        code, out = project.status(
            "move_tenant", "acme", "--url", template.replace("{tenant}", "beta"), "--noinput"
        )
        assert code == 1, out
        assert "is fenced by a move of another tenant" in out, out
        assert "existed before and was kept" in out, out
    finally:
        for name in ("acme", "beta"):
            project.manage("drop_tenant", name, "--drop-database", "--noinput", check=False)
            drop_server_database(template.replace("{tenant}", name))
            drop_server_database(moved[name])
        drop_server_database(template.replace("{tenant}", "_template"))  # tenants.clone's
    assert not any(f"_mf{suffix}_" in name for name in server_databases(server))
