"""Attack: a refused ``move_tenant`` removes the fence of another tenant being moved.

``move_tenant beta --url <acme's database>`` (a typo) while acme is being moved: the command
removes the fence triggers of its target (``unfence(target_alias, ...)``, meant for a database
an earlier move left fenced) *before* it finds the target holds rows and gives up. Observed on
main: exit 1 ("already holds rows"), and acme's source, mid-move, takes a write from a bare
driver connection again (15 triggers before, 0 after): what the fence exists to refuse (a
process that has not seen the move yet writes there; after the switch that write is lost).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from tests.tenants.project_support import TenantProject, wait_for

TEMPLATE = "sqlite:///tenants/{tenant}.sqlite3"


def test_a_refused_move_leaves_the_fence_of_a_tenant_being_moved(tmp_path: Path) -> None:
    project = TenantProject(tmp_path, TEMPLATE, recheck_seconds=0.5)
    project.manage("migrate_all", "--verbosity", "0")
    project.manage("create_tenant", "acme")
    project.manage("create_tenant", "beta")
    project.scenario("seed", "acme")
    folder = tmp_path / "points"
    folder.mkdir()
    mover = project.start("held_move", "acme", "sqlite:///moved/acme.sqlite3", str(folder), "copy")
    try:
        wait_for(folder / "held", mover)  # acme: fenced, read-only, copy not started

        code, out = project.status(
            "move_tenant", "beta", "--url", "sqlite:///tenants/acme.sqlite3", "--noinput"
        )
        assert code == 1, out

        with closing(sqlite3.connect(tmp_path / "tenants" / "acme.sqlite3")) as connection:
            try:
                connection.execute("INSERT INTO notes_note (title) VALUES ('stale process')")
                connection.commit()
                outcome = "accepted"  # main
            except sqlite3.DatabaseError as error:
                outcome = f"refused: {error}"
    finally:
        (folder / "release").touch()
        project.finish(mover)
    assert outcome.startswith("refused: tenant 'acme' is being moved"), outcome
