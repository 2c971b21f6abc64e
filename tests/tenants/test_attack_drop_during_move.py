"""Attack: ``drop_tenant --drop-database`` while ``move_tenant`` of the same tenant runs.

No data is kept or resurrected (checked: no row, no file, a later ``create_tenant`` gets an empty
database), but the move's error tells the operator the opposite of what happened. Observed on
main: "Tenant 'acme' was not moved: its row changed during the move (move_tenant --abort?). It
stays on sqlite:///tenants/acme.sqlite3, read-only: removing the fence of its tables failed
(attempt to write a readonly database); make it writable with: manage.py move_tenant acme
--abort" -- the tenant and its database no longer exist, and ``--abort`` answers "no tenant".
(Without --drop-database: "... It stays on ... and takes writes again".)
"""

from __future__ import annotations

from pathlib import Path

from tests.tenants.project_support import TenantProject, wait_for

TEMPLATE = "sqlite:///tenants/{tenant}.sqlite3"


def test_a_move_interrupted_by_a_drop_says_the_tenant_was_dropped(tmp_path: Path) -> None:
    project = TenantProject(tmp_path, TEMPLATE, recheck_seconds=0.5)
    project.manage("migrate_all", "--verbosity", "0")
    project.manage("create_tenant", "acme")
    project.scenario("seed", "acme")
    folder = tmp_path / "points"
    folder.mkdir()
    mover = project.start("held_move", "acme", "sqlite:///moved/acme.sqlite3", str(folder), "copy")
    try:
        wait_for(folder / "held", mover)
        project.manage("drop_tenant", "acme", "--drop-database", "--noinput")
    finally:
        (folder / "release").touch()
    result = project.finish(mover)

    assert not result["ok"]
    assert not (tmp_path / "tenants" / "acme.sqlite3").exists()  # holds on main
    error = result["error"]
    assert "--abort" not in error, error  # acme no longer exists: --abort answers "no tenant"
    assert "dropped" in error.split(".", 1)[0], error  # the reason: the tenant was dropped
