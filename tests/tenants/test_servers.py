"""A database per tenant on PostgreSQL and MariaDB: create_tenant makes a server database per
tenant, rows land in it (read back with the bare driver), drop_tenant drops it."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest

from tests.support.services import MARIADB_URL, POSTGRES_URL, sibling_url
from tests.tenants.project.scenarios import write
from tests.tenants.project_support import TenantProject, server_databases, server_rows
from tests.tenants.test_sqlite import concurrency, routing

SERVERS = [
    pytest.param(POSTGRES_URL, marks=pytest.mark.postgres, id="postgresql"),
    pytest.param(MARIADB_URL, marks=pytest.mark.mariadb, id="mariadb"),
]


@pytest.mark.parametrize("server_url", SERVERS)
def test_each_tenant_has_its_own_server_database(tmp_path: Path, server_url: str) -> None:
    template = sibling_url(server_url, "_t_{tenant}")
    suffix = secrets.token_hex(3)
    acme, beta = f"acme{suffix}", f"beta{suffix}"
    urls = {name: template.replace("{tenant}", name) for name in (acme, beta)}
    database_names = {name: urls[name].partition("?")[0].rpartition("/")[2] for name in urls}
    project = TenantProject(tmp_path, template)
    project.manage("migrate_all", "--verbosity", "0")
    try:
        for name in (acme, beta):
            out = project.manage("create_tenant", name)
            assert f"Tenant {name!r}: database" in out
            # The second is a copy of the first (tenants.clone), except on MariaDB.
            assert re.search(r"\(created\), (migrated|copied from the migrated template), re", out)
        assert set(database_names.values()) <= server_databases(server_url)
        again = project.manage("migrate_all")
        assert f"tenant_{acme}: up to date" in again
        assert f"tenant_{beta}: up to date" in again

        out = project.scenario(routing, acme, beta)
        assert out["acme_note_db"] == f"tenant_{acme}"
        assert out["acme_author"] == "ann"
        assert "rows of two tenants are never related" in out["across_tenants"]
        assert out["acme_after_delete"] == []  # CASCADE from default's user, on the server
        project.scenario(write, acme, beta)
        tasks = project.scenario(concurrency, acme, beta)
        assert tasks["leaks"] == []

        def titles(name: str) -> list[str]:
            rows = server_rows(urls[name], "SELECT title FROM notes_note")
            return sorted(title for (title,) in rows)

        assert titles(acme) == sorted([f"{acme}-row", *(f"{acme}-{i}" for i in range(0, 200, 2))])
        assert titles(beta) == sorted(  # beta-1 went with its author (every tenant's rows)
            [f"{beta}-row", *(f"{beta}-{i}" for i in range(1, 200, 2))]
        )
        tables = {row[0] for row in server_rows(urls[acme], _TABLES[_family(server_url)])}
        assert {"notes_note", "notes_tag", "django_cfg_deleteintent"} <= tables
        assert "auth_user" not in tables
    finally:
        for name in (acme, beta):
            project.manage("drop_tenant", name, "--drop-database", "--noinput", check=False)
    assert not set(database_names.values()) & server_databases(server_url)


_TABLES = {
    "postgresql": "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
    "mysql": "SHOW TABLES",
}


def _family(url: str) -> str:
    return "postgresql" if url.startswith("postgres") else "mysql"


@pytest.mark.postgres
def test_a_tenant_url_with_a_password_is_never_shown(tmp_path: Path) -> None:
    secret = "Pw-" + secrets.token_hex(8)
    name = "pw" + secrets.token_hex(3)
    base = POSTGRES_URL.partition("?")[0]
    server, _, database = base.rpartition("/")
    with_password = server.replace("://postgres@", f"://postgres:{secret}@", 1)
    assert secret in with_password  # the URL does carry it (trust authentication ignores it)
    project = TenantProject(tmp_path, f"{with_password}/{database}_t_{{tenant}}")
    project.manage("migrate_all", "--verbosity", "0")
    try:
        out = project.manage("create_tenant", name, check=False)
        assert "postgres:***@" in out
        assert secret not in out
        # a tenant on a server that does not answer: refused, not recorded, password hidden
        dead = server.replace(":5432", ":1") + f"/{database}_t_dead"
        failed = project.manage("create_tenant", "dead" + name, "--url", dead, check=False)
        assert "was not created" in failed
        assert secret not in failed
        # a URL with a password: refused before anything is recorded (move_tenant's tests)
        stored = project.manage(
            "create_tenant", "pw" + name, "--url", with_password + "/x", check=False
        )
        assert "holds a password" in stored
        assert secret not in stored
        listed = project.sqlite_rows("default.sqlite3", "SELECT name FROM django_cfg_tenant")
        assert listed == [(name,)]
    finally:
        project.manage("drop_tenant", name, "--drop-database", "--noinput", check=False)
