"""How a ``move_tenant`` ends when something else happens to the tenant meanwhile
(docs/tenants.md, "Moving a tenant"): a drop, a shared delete its fence refused."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.spec_page import run_python
from tests.tenants.project_support import (
    ROOT,
    SQLITE_TEMPLATE,
    TenantProject,
    seeded_acme,
    start_held_move,
)

SCRIPT = """
import io, json, threading
import django
django.setup()
from django.contrib.auth.models import User
from django.core.management import call_command
from django_cfg import use_tenant
from django_cfg.management.commands import move_tenant
from django_cfg.tenants import create_tenant
from django_cfg.tenants.registry import current_registry
from tests.tenants.project.assignments.models import Task
from tests.tenants.project.notes.models import Note

call_command("migrate", verbosity=0)
for name in ["acme", "beta", "gamma"]:
    create_tenant(name)
ann = User.objects.create(username="ann")
ann_pk = ann.pk
for name in ["acme", "beta", "gamma"]:
    with use_tenant(name):
        for i in range(3):
            Note.objects.create(title=f"{name}-{i}", author=ann)
        Task.objects.create(title=f"{name}-task", assignee=ann)

held, release = threading.Event(), threading.Event()
copy_rows = move_tenant.copy_rows

def held_copy(*args, **kwargs):
    held.set()
    release.wait(60)
    return copy_rows(*args, **kwargs)

move_tenant.copy_rows = held_copy
said = io.StringIO()
moved = threading.Thread(target=call_command, args=("move_tenant", "acme"),
                         kwargs={"url": "sqlite:///moved/acme.sqlite3", "interactive": False,
                                 "stdout": said})
moved.start()
assert held.wait(60)
try:
    ann.delete()
    delete = "returned"
except Exception as error:
    delete = type(error).__name__
release.set()
moved.join()
current_registry().refresh("acme")
left = {}
for name in ["acme", "beta", "gamma"]:
    with use_tenant(name):
        left[name] = (Note.objects.filter(author_id=ann_pk).count()
                      + Task.objects.filter(assignee_id=ann_pk).count())
acme_url = current_registry()._row("acme").url
print(json.dumps({"delete": delete, "acme_url": acme_url, "said": said.getvalue(),
                  "user_left": User.objects.filter(pk=ann_pk).exists(),
                  "left": left}))
"""


def test_a_move_interrupted_by_a_drop_says_the_tenant_was_dropped(tmp_path: Path) -> None:
    """``drop_tenant --drop-database`` while the move holds before its copy. No data is kept or
    resurrected, but the move used to say the tenant "stays on sqlite:///tenants/acme.sqlite3,
    read-only ... make it writable with: manage.py move_tenant acme --abort", which answers "no
    tenant"."""
    project = seeded_acme(tmp_path)
    folder = tmp_path / "points"
    mover = start_held_move(project, folder)
    try:
        project.manage("drop_tenant", "acme", "--drop-database", "--noinput")
    finally:
        (folder / "release").touch()
    result = project.finish(mover)

    assert not result["ok"]
    assert not (tmp_path / "tenants" / "acme.sqlite3").exists()  # holds on main
    error = result["error"]
    assert "--abort" not in error, error  # acme no longer exists: --abort answers "no tenant"
    assert "dropped" in error.split(".", 1)[0], error  # the reason: the tenant was dropped
    assert "its database sqlite:///tenants/acme.sqlite3 was dropped too" in error, error
    assert "the new database sqlite:///moved/acme.sqlite3 was dropped" in error, error
    assert not (tmp_path / "moved" / "acme.sqlite3").exists()


def test_a_move_finishes_the_shared_delete_its_fence_refused(tmp_path: Path) -> None:
    """A shared user deleted while acme is being moved: acme's sweep is refused by the fence
    and the intent kept (as documented); the move finishes it when it ends. Before, acme kept
    3 notes (CASCADE) and 1 task (SET_NULL) of the deleted user until an unrelated shared
    delete ran."""
    project = TenantProject(tmp_path, SQLITE_TEMPLATE, recheck_seconds=0.3)
    env = {**project.env, "TENANT_TEST_SHARED_DELETE": "1"}

    result = json.loads(run_python("-c", SCRIPT, cwd=ROOT, env=env).strip().splitlines()[-1])

    assert result["delete"] == "SharedDeleteIncomplete"  # as documented: acme was fenced
    assert result["user_left"] is False
    assert result["acme_url"] == "sqlite:///moved/acme.sqlite3"  # the move succeeded
    # main: {"acme": 4, "beta": 0, "gamma": 0} -- until an unrelated shared delete runs
    assert result["left"] == {"acme": 0, "beta": 0, "gamma": 0}
    assert "Finished 1 shared delete(s) whose rows in tenant 'acme'" in result["said"]
