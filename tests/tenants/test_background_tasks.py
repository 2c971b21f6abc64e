"""The tenant follows background work: Celery task headers and Django's tasks framework.

Each test queues tasks inside ``use_tenant`` in the tenant project (a subprocess) and reads the
tenants' SQLite files with sqlite3: the rows a task writes land in the tenant it was queued in.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

import django
import pytest

from tests.tenants.project_support import TenantProject

TEMPLATE = "sqlite:///tenants/{tenant}.sqlite3"


def titles(project: TenantProject, name: str) -> list[str]:
    rows = project.sqlite_rows(f"tenants/{name}.sqlite3", "SELECT title FROM notes_note")
    return sorted(title for (title,) in rows)


@pytest.fixture
def project(tmp_path: Path) -> TenantProject:
    project = TenantProject(tmp_path, TEMPLATE, names=["acme", "beta"])
    project.manage("migrate_all", "--verbosity", "0")
    return project


def test_a_celery_task_runs_in_the_tenant_it_was_queued_in(project: TenantProject) -> None:
    assert find_spec("celery"), "celery is in the dev extra"
    out = project.scenario("celery", "acme", "beta")
    # The worker (a thread of its own, so a fresh context) ran each task in its message's tenant
    assert out["acme"] == "acme"
    assert out["beta"] == "beta"
    # Queued with no tenant: ran with none (never default)
    assert out["none"].startswith("NoTenantError: notes.Note lives in a tenant database")
    # A header naming an unknown tenant fails the task
    assert out["unknown"] == (
        "UnknownTenantError: no tenant 'nosuch': it is not in TenantsConfig.names (acme, beta)."
    )
    # Without the signals the tenants app connected, the tenant does not cross the message
    assert out["disconnected"].startswith("NoTenantError")
    assert titles(project, "acme") == ["acme-celery"]
    assert titles(project, "beta") == ["beta-celery"]
    assert "notes_note" not in project.sqlite_tables("default.sqlite3")


@pytest.mark.skipif(
    django.VERSION < (6, 0), reason="django.tasks (the tasks framework) exists from Django 6.0"
)
def test_a_django_task_runs_in_the_tenant_it_was_enqueued_in(project: TenantProject) -> None:
    out = project.scenario("django_tasks", "acme", "beta")
    immediate = out["immediate"]
    assert immediate["acme"]["status"] == "SUCCESSFUL"
    assert immediate["acme"]["return"] == "acme"
    assert immediate["acme"]["kwargs"] == {"django_cfg_tenant": "acme"}
    assert immediate["beta"]["return"] == "beta"
    assert immediate["None"]["status"] == "FAILED"
    assert immediate["None"]["errors"] == ["django_cfg.tenants.context.NoTenantError"]
    assert immediate["None"]["kwargs"] == {}
    # Stored by the deferred backend, run by another thread from the stored task and arguments
    assert out["deferred"] == {
        "acme-deferred": "acme",
        "beta-deferred": "beta",
        "nosuch-deferred": "UnknownTenantError: no tenant 'nosuch': it is not in "
        "TenantsConfig.names (acme, beta).",
    }
    assert titles(project, "acme") == ["acme-deferred", "acme-immediate"]
    assert titles(project, "beta") == ["beta-deferred", "beta-immediate"]
    assert "notes_note" not in project.sqlite_tables("default.sqlite3")
