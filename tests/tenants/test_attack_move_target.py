"""Attack: ``move_tenant`` onto another tenant's database (an operator's typo in --url).

Found by the combination review of issue 18: the target check refuses a database that holds
rows, not one that is another tenant's. A just-created tenant ``beta`` (migrated, no rows yet)
is a valid-looking target for ``move_tenant acme``: afterwards both tenants route to one file.
"""

from __future__ import annotations

from pathlib import Path

from tests.tenants.project_support import TenantProject

TEMPLATE = "sqlite:///tenants/{tenant}.sqlite3"
NOTES = "SELECT title FROM notes_note ORDER BY id"


def test_move_onto_another_tenants_database_is_refused(tmp_path: Path) -> None:
    project = TenantProject(tmp_path, TEMPLATE, recheck_seconds=0.5)
    project.manage("migrate_all", "--verbosity", "0")
    project.manage("create_tenant", "acme")
    project.manage("create_tenant", "beta")  # a new customer: migrated, no rows yet
    project.scenario("seed", "acme")
    acme_titles = project.sqlite_rows("tenants/acme.sqlite3", NOTES)
    assert acme_titles  # acme has notes, beta none
    assert project.sqlite_rows("tenants/beta.sqlite3", NOTES) == []

    code, out = project.status(
        "move_tenant", "acme", "--url", "sqlite:///tenants/beta.sqlite3", "--noinput"
    )

    # Observed on main: exit 0, "Tenant 'acme' moved ... to sqlite:///tenants/beta.sqlite3",
    # and beta's database now holds acme's notes (beta's customer reads them).
    beta_rows = project.sqlite_rows("tenants/beta.sqlite3", NOTES)
    assert (code, beta_rows) == (1, []), out
    assert "beta" in out
