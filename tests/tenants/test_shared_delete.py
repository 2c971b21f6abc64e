"""Deleting a shared row applies on_delete in every tenant (docs/tenants.md, "Deleting a shared
row"): CASCADE, SET_NULL and PROTECT of three tenants' rows to a user on default, whichever
tenant is selected or none, from code and from the admin, after a kill -9 mid-delete, and with
tenants this process has not opened under max_open=1.

The tenant project with its ``assignments`` app: ``notes.Note.author`` CASCADE,
``assignments.Task.assignee`` SET_NULL, ``assignments.Hold.owner`` PROTECT
(the scenarios at the end of this module seed and delete)."""

from __future__ import annotations

import os
import secrets
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db.models import ProtectedError
from django.db.models.signals import post_delete
from django.test import Client

from django_cfg import use_tenant
from django_cfg.tenants.registry import current_registry
from tests.support.services import POSTGRES_URL, sibling_url
from tests.support.spec_page import run_process
from tests.tenants.project_support import (
    ROOT,
    RUN,
    SQLITE_TEMPLATE,
    TenantProject,
    drop_server_database,
    scenario_path,
    server_rows,
)

TENANTS = ["acme", "beta", "gamma"]


class SharedDeleteProject(TenantProject):
    """The tenant project with the ``assignments`` app (Task, Hold) among the tenant apps."""

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "TENANT_TEST_SHARED_DELETE": "1"}


def _project(tmp_path: Path, **options: Any) -> TenantProject:
    project = SharedDeleteProject(tmp_path, SQLITE_TEMPLATE, names=TENANTS, **options)
    project.manage("migrate_all", "--verbosity", "0")
    return project


def _seeded(
    tmp_path: Path, *protect_in: str, **options: Any
) -> tuple[TenantProject, dict[str, Any]]:
    """``_project`` with ann's and bob's rows (scenario ``seed_users``): it and the users' keys."""
    project = _project(tmp_path, **options)
    return project, project.scenario(seed_users, *protect_in)


_REFERENCES = [  # (what, table, ForeignKey column to auth_user)
    ("notes", "notes_note", "author_id"),
    ("tasks", "assignments_task", "assignee_id"),
    ("holds", "assignments_hold", "owner_id"),
]


def _in_tenant(
    project: TenantProject,
    name: str,
    users: dict[str, int],
    rows: Callable[[str, str], list[tuple[Any, ...]]] | None = None,
) -> dict[str, Any]:
    """What tenant ``name``'s database holds (its SQLite file, or ``rows(name, sql)``), per
    user: notes, tasks assigned, holds; tasks with no assignee; and rows naming a user id that
    is not on default (orphans)."""
    existing = {pk for (pk,) in project.sqlite_rows("default.sqlite3", "SELECT id FROM auth_user")}

    def query(sql: str) -> list[tuple[Any, ...]]:
        if rows is not None:
            return rows(name, sql)
        return project.sqlite_rows(f"tenants/{name}.sqlite3", sql)

    def count(sql: str) -> int:
        return int(query(sql)[0][0])

    found: dict[str, Any] = {
        "unassigned_tasks": count("SELECT COUNT(*) FROM assignments_task WHERE assignee_id IS NULL")
    }
    for user, pk in users.items():
        for what, table, column in _REFERENCES:
            found[f"{user}_{what}"] = count(f"SELECT COUNT(*) FROM {table} WHERE {column} = {pk}")
    referenced = query(
        "SELECT author_id FROM notes_note UNION SELECT assignee_id FROM assignments_task "
        "UNION SELECT owner_id FROM assignments_hold",
    )
    found["orphans"] = sorted(pk for (pk,) in referenced if pk is not None and pk not in existing)
    return found


def _usernames(project: TenantProject) -> list[str]:
    rows = project.sqlite_rows("default.sqlite3", "SELECT username FROM auth_user")
    return sorted(name for (name,) in rows if name != "root")


def _intents(project: TenantProject) -> int:
    rows = project.sqlite_rows("default.sqlite3", "SELECT COUNT(*) FROM django_cfg_deleteintent")
    return int(rows[0][0])


def _assert_ann_deleted_everywhere(project: TenantProject, users: dict[str, int]) -> None:
    assert _usernames(project) == ["bob"]
    for name in TENANTS:
        assert _in_tenant(project, name, users) == {
            "unassigned_tasks": 2,  # SET_NULL applied to ann's two tasks
            "ann_notes": 0,  # CASCADE
            "ann_tasks": 0,
            "ann_holds": 0,
            "bob_notes": 1,  # bob's rows untouched
            "bob_tasks": 1,
            "bob_holds": 0,
            "orphans": [],
        }, name
    assert _intents(project) == 0


def _assert_nothing_deleted(project: TenantProject, users: dict[str, int]) -> None:
    assert _usernames(project) == ["ann", "bob"]
    for name in TENANTS:
        state = _in_tenant(project, name, users)
        assert (state["ann_notes"], state["ann_tasks"], state["unassigned_tasks"]) == (2, 2, 0)
        assert state["orphans"] == []
    assert _intents(project) == 0


@pytest.mark.parametrize("selected", ["acme", "-"], ids=["acme selected", "no tenant selected"])
def test_deleting_a_shared_user_applies_on_delete_in_every_tenant(
    tmp_path: Path, selected: str
) -> None:
    project, users = _seeded(tmp_path)
    out = project.scenario(delete_user, "ann", selected)
    assert out["per_model"] == {"auth.User": 1, "notes.Note": 6}  # 2 notes in each tenant
    _assert_ann_deleted_everywhere(project, users)


def test_protect_in_another_tenant_refuses_the_delete_and_names_the_tenant(
    tmp_path: Path,
) -> None:
    project, users = _seeded(tmp_path, "gamma")  # a hold on ann in gamma only
    out = project.scenario(delete_user, "ann", "acme")
    assert "In tenant 'gamma' (database 'tenant_gamma')" in out["protected"]
    assert "'Hold.owner'" in out["protected"]
    assert "Nothing was deleted in any database" in out["protected"]
    assert out["objects"] == ["gamma keeps ann"]
    _assert_nothing_deleted(project, users)
    assert _in_tenant(project, "gamma", users)["ann_holds"] == 1


@pytest.mark.parametrize("selected", ["-", "acme"], ids=["plain host", "tenant acme"])
def test_admin_delete_page_shows_each_tenant_and_the_post_deletes_everywhere(
    tmp_path: Path, selected: str
) -> None:
    project, users = _seeded(tmp_path)
    page = project.scenario(admin_delete_page, "ann", selected)
    assert page["status"] == 200
    html = page["page"]
    for name in TENANTS:
        assert f"Tenant {name}: 2 notes deleted, 2 tasks: assignee set to NULL" in html
        assert f"Task: {name}-ann-1 (assignee will be set to NULL, in tenant {name})" in html
    assert "<li>Notes: 6</li>" in html  # the summary counts every tenant's deleted rows
    _assert_nothing_deleted(project, users)  # the page changes nothing

    posted = project.scenario(admin_delete_page, "ann", selected, "post")
    assert posted["status"] == 302, posted["page"][:2000]
    _assert_ann_deleted_everywhere(project, users)


def test_admin_delete_page_lists_protected_rows_of_any_tenant(tmp_path: Path) -> None:
    project, users = _seeded(tmp_path, "gamma")
    page = project.scenario(admin_delete_page, "ann", "acme")
    assert page["status"] == 200
    assert "would require deleting the following protected related objects" in page["page"]
    assert "<li>Hold: gamma keeps ann (tenant gamma)</li>" in page["page"]
    posted = project.scenario(admin_delete_page, "ann", "-", "post")  # Django refuses the POST too
    assert posted["status"] == 200
    _assert_nothing_deleted(project, users)


@pytest.mark.parametrize("recovery", ["next shared delete", "migrate_all"])
def test_kill_9_mid_sweep_then_the_next_shared_delete_or_deploy_finishes_it(
    tmp_path: Path, recovery: str
) -> None:
    project, users = _seeded(tmp_path)
    # Killed by a post_delete receiver at ann's first note in beta: acme is done, beta's
    # transaction dies, gamma is not reached.
    crash = [sys.executable, *RUN, scenario_path(crash_mid_sweep), "ann", "beta"]
    crashed = run_process(crash, cwd=ROOT, env=project.env, timeout=120)
    assert crashed.returncode == -9, crashed.stdout + crashed.stderr
    assert _usernames(project) == ["bob"]
    assert _in_tenant(project, "acme", users)["orphans"] == []
    for name in ("beta", "gamma"):
        state = _in_tenant(project, name, users)
        assert (state["ann_notes"], state["ann_tasks"]) == (2, 2), name
        assert state["orphans"] == [users["ann"]], name
    assert _intents(project) > 0  # the intent on default says what is unfinished

    if recovery == "migrate_all":  # each deploy finishes what a crash left
        out = project.manage("migrate_all")
        assert "Finished 1 shared delete whose tenant sweep a crash had left" in out
        for name in TENANTS:
            state = _in_tenant(project, name, users)
            assert state["orphans"] == [], name
            assert (state["ann_notes"], state["unassigned_tasks"]) == (0, 2), name
        assert _intents(project) == 0
        return
    # The automatic recovery: any later delete of a shared row that tenants reference.
    out = project.scenario(delete_user, "bob", "-")
    assert out["per_model"] == {"auth.User": 1, "notes.Note": 3}
    assert _usernames(project) == []
    for name in TENANTS:
        state = _in_tenant(project, name, users)
        assert state["orphans"] == [], name
        assert state["unassigned_tasks"] == 3, name  # ann's two and bob's one
        assert state["ann_notes"] == state["bob_notes"] == 0, name
    assert _intents(project) == 0


def test_tenants_not_open_are_covered_one_at_a_time_under_max_open_1(tmp_path: Path) -> None:
    project, users = _seeded(tmp_path, max_open=1)
    out = project.scenario(timed_delete, "ann")
    assert out["peak_open"] == 1  # one tenant database at a time
    assert out["open_after"] == 0  # and none left open by the delete
    _assert_ann_deleted_everywhere(project, users)


@pytest.mark.postgres
def test_on_postgresql_tenants_protect_refuses_and_cascade_set_null_reach_every_tenant(
    tmp_path: Path,
) -> None:
    suffix = secrets.token_hex(3)
    template = sibling_url(POSTGRES_URL, "_sd_{tenant}")
    names = [f"{name}{suffix}" for name in TENANTS]
    project = SharedDeleteProject(tmp_path, template)  # the tenants table; server databases

    def rows(name: str, sql: str) -> list[tuple[Any, ...]]:
        return server_rows(template.replace("{tenant}", name), sql)

    project.manage("migrate_all", "--verbosity", "0")
    try:
        for name in names:
            project.manage("create_tenant", name, "--verbosity", "0")
        users = project.scenario(seed_users, names[2])  # a hold on ann in the third tenant
        refused = project.scenario(delete_user, "ann", names[0])
        assert f"In tenant {names[2]!r} (database 'tenant_{names[2]}')" in refused["protected"]
        assert _usernames(project) == ["ann", "bob"]
        for name in names:
            state = _in_tenant(project, name, users, rows)
            assert (state["ann_notes"], state["ann_tasks"], state["unassigned_tasks"]) == (2, 2, 0)

        out = project.scenario(delete_user, "bob", names[0])
        assert out["per_model"] == {"auth.User": 1, "notes.Note": 3}
        assert _usernames(project) == ["ann"]
        for name in names:
            state = _in_tenant(project, name, users, rows)
            assert (state["bob_notes"], state["bob_tasks"], state["unassigned_tasks"]) == (0, 0, 1)
            assert (state["ann_notes"], state["ann_tasks"]) == (2, 2)
            assert state["orphans"] == []
        assert _intents(project) == 0
    finally:
        for name in names:
            drop_server_database(template.replace("{tenant}", name))


# Scenarios, run in a process of the tenant project (TenantProject.scenario)


def tenant_names() -> list[str]:
    registry = current_registry()
    assert registry is not None
    return registry.names()


def seed_users(args: list[str]) -> dict[str, Any]:
    """Users ann (to delete) and bob (kept) on default; in every tenant two notes of ann
    (CASCADE), one of bob, two tasks of ann (SET_NULL), one of bob; with PROTECT_IN, a hold on ann
    (PROTECT) in that tenant."""
    from django.contrib.auth.models import User

    from tests.tenants.project.assignments.models import Hold, Task
    from tests.tenants.project.notes.models import Note

    protect_in = args[0] if args else None
    ann = User.objects.create(username="ann")
    bob = User.objects.create(username="bob")
    for name in tenant_names():
        with use_tenant(name):
            Note.objects.bulk_create(
                [Note(title=f"{name}-ann-{i}", author=ann) for i in (1, 2)]
                + [Note(title=f"{name}-bob", author=bob)]
            )
            Task.objects.bulk_create(
                [Task(title=f"{name}-ann-{i}", assignee=ann) for i in (1, 2)]
                + [Task(title=f"{name}-bob", assignee=bob)]
            )
            if name == protect_in:
                Hold.objects.create(reason=f"{name} keeps ann", owner=ann)
    return {"ann": ann.pk, "bob": bob.pk}


def delete_user(args: list[str]) -> dict[str, Any]:
    """``user.delete()`` of USER with TENANT selected (``-``: none)."""
    from django.contrib.auth.models import User

    username, tenant = args
    user = User.objects.get(username=username)
    try:
        with use_tenant(None if tenant == "-" else tenant):
            count, per_model = user.delete()
    except ProtectedError as error:
        protected = sorted(str(obj) for obj in error.protected_objects)
        return {"protected": str(error), "objects": protected}
    return {"count": count, "per_model": per_model}


def admin_delete_page(args: list[str]) -> dict[str, Any]:
    """The admin's delete page of USER as a superuser (GET, or with ``post`` the POST that
    confirms), with the X-Tenant header of TENANT (``-``: a plain host)."""
    from django.contrib.auth.models import User

    username, tenant, *post = args
    admin_user, _ = User.objects.get_or_create(
        username="root", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(admin_user)
    user = User.objects.get(username=username)
    headers = {} if tenant == "-" else {"X-Tenant": tenant}
    url = f"/admin/auth/user/{user.pk}/delete/"
    if post:
        response = client.post(url, {"post": "yes"}, headers=headers)
    else:
        response = client.get(url, headers=headers)
    return {"status": response.status_code, "page": response.content.decode()}


def crash_mid_sweep(args: list[str]) -> dict[str, Any]:
    """``user.delete()`` of USER with no tenant selected, killed with SIGKILL by a post_delete
    receiver of its first note deleted in tenant TENANT (mid-sweep)."""
    from django.contrib.auth.models import User

    from tests.tenants.project.notes.models import Note

    username, tenant = args

    def die(sender: Any, instance: Note, using: str, **kwargs: Any) -> None:
        if using == f"tenant_{tenant}":
            os.kill(os.getpid(), signal.SIGKILL)  # mid-sweep, inside that tenant's transaction

    post_delete.connect(die, sender=Note)
    User.objects.get(username=username).delete()
    return {"survived": True}  # never printed: the receiver kills the process


def timed_delete(args: list[str]) -> dict[str, Any]:
    """``user.delete()`` of USER with no tenant selected: seconds taken, and the most tenant
    databases open at once in this process while it ran."""
    from django.contrib.auth.models import User

    from tests.tenants.project.notes.models import Note

    (username,) = args
    registry = current_registry()
    assert registry is not None
    peak = 0

    def watch(sender: Any, **kwargs: Any) -> None:
        nonlocal peak
        peak = max(peak, len(registry.open))

    post_delete.connect(watch, sender=Note)
    user = User.objects.get(username=username)
    start = time.perf_counter()
    count, _ = user.delete()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "count": count, "peak_open": peak, "open_after": len(registry.open)}
