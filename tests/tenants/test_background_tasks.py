"""The tenant follows background work: Celery task headers and Django's tasks framework.

Each test queues tasks inside ``use_tenant`` in the tenant project (a subprocess) and reads the
tenants' SQLite files with sqlite3: the rows a task writes land in the tenant it was queued in.
"""

from __future__ import annotations

from importlib.util import find_spec

import django
import pytest

from tests.tenants.project_support import TenantProject
from tests.tenants.project_support import sqlite_titles as titles


def test_a_celery_task_runs_in_the_tenant_it_was_queued_in(fixed: TenantProject) -> None:
    assert find_spec("celery"), "celery is in the dev extra"
    out = fixed.scenario("celery", "acme", "beta")
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
    assert titles(fixed, "acme") == ["acme-celery"]
    assert titles(fixed, "beta") == ["beta-celery"]
    assert "notes_note" not in fixed.sqlite_tables("default.sqlite3")


def test_an_eager_celery_task_with_a_tenant_header_runs_in_that_tenant(
    fixed: TenantProject,
) -> None:
    """``apply()`` (and ``task_always_eager``) runs in the caller's thread: in its tenant, unless
    the task is given a ``django_cfg_tenant`` header, as a queued task would be."""
    out = fixed.scenario("celery_eager", "acme", "beta")
    assert out == {"caller": "acme", "header": "beta", "after": "acme"}
    assert titles(fixed, "acme") == ["acme-eager"]
    assert titles(fixed, "beta") == ["beta-eager"]


@pytest.mark.skipif(
    django.VERSION < (6, 0), reason="django.tasks (the tasks framework) exists from Django 6.0"
)
def test_a_django_task_runs_in_the_tenant_it_was_enqueued_in(fixed: TenantProject) -> None:
    out = fixed.scenario("django_tasks", "acme", "beta")
    immediate = out["immediate"]
    assert immediate["acme"]["status"] == "SUCCESSFUL"
    assert immediate["acme"]["return"] == "acme"
    assert immediate["acme"]["kwargs"] == {"django_cfg_tenant": "acme"}
    assert immediate["beta"]["return"] == "beta"
    assert immediate["None"]["status"] == "FAILED"
    assert immediate["None"]["errors"] == ["django_cfg.tenants.errors.NoTenantError"]
    assert immediate["None"]["kwargs"] == {}
    assert out["tenant_argument"].startswith(
        "TypeError: 'django_cfg_tenant' is the keyword argument that carries the tenant"
    )
    # Stored by the deferred backend, run by another thread from the stored task and arguments
    assert out["deferred"] == {
        "acme-deferred": "acme",
        "beta-deferred": "beta",
        "nosuch-deferred": "UnknownTenantError: no tenant 'nosuch': it is not in "
        "TenantsConfig.names (acme, beta).",
    }
    assert titles(fixed, "acme") == ["acme-deferred", "acme-immediate"]
    assert titles(fixed, "beta") == ["beta-deferred", "beta-immediate"]
    assert "notes_note" not in fixed.sqlite_tables("default.sqlite3")
