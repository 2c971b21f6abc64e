"""A tenant's alias works as the first use of the tenant in a process (patches.py, patch 8):
``transaction.atomic(using="tenant_acme")``, ``.using("tenant_acme")``,
``connections["tenant_acme"]``, as a Celery task or a command starts."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from django.db import connections, transaction

from django_cfg.tenants.registry import current_registry
from tests.support.services import POSTGRES_URL, sibling_url
from tests.tenants.project.scenarios import Rollback, error_of
from tests.tenants.project_support import (
    TenantProject,
    drop_server_database,
    server_rows,
    sqlite_titles,
)


def check(out: dict[str, Any], acme: str, beta: str) -> None:
    assert out["open_before"] == []  # nothing of acme or beta was open: the first use
    assert out["saved_to"] == f"tenant_{acme}"
    assert out["beta_count"] == 0
    assert out["open_after"] == sorted([acme, beta])
    assert out["unknown"].startswith(
        "ConnectionDoesNotExist: The connection 'tenant_nosuch' doesn't exist: no tenant 'nosuch'"
    )
    assert out["not_a_tenant"] == "ConnectionDoesNotExist: The connection 'nosuch' doesn't exist."
    assert out["invalid"].startswith("ConnectionDoesNotExist: The connection 'tenant_../x'")


def test_first_use_by_alias_on_sqlite(fixed: TenantProject) -> None:
    out = fixed.scenario(first_use, "acme", "beta")  # was: ConnectionDoesNotExist at the first line
    check(out, "acme", "beta")
    assert sqlite_titles(fixed, "acme") == ["first-use"]  # the rolled-back row is not there


@pytest.mark.postgres
def test_first_use_by_alias_on_postgresql(tmp_path: Path) -> None:
    template = sibling_url(POSTGRES_URL, "_t_{tenant}")
    suffix = secrets.token_hex(3)
    acme, beta = f"acme{suffix}", f"beta{suffix}"
    project = TenantProject(tmp_path, template)  # the tenants table: each read from default
    project.manage("migrate_all", "--verbosity", "0")
    try:
        for name in (acme, beta):
            project.manage("create_tenant", name)
        out = project.scenario(first_use, acme, beta)
        check(out, acme, beta)
        rows = server_rows(template.replace("{tenant}", acme), "SELECT title FROM notes_note")
        assert rows == [("first-use",)]
    finally:
        for name in (acme, beta):
            drop_server_database(template.replace("{tenant}", name))


# Scenarios, run in a process of the tenant project (TenantProject.scenario)


def first_use(args: list[str]) -> dict[str, Any]:
    """A process whose first use of its tenants names their aliases (a Celery task's shape)."""
    from tests.tenants.project.notes.models import Note

    acme, beta = args
    registry = current_registry()
    assert registry is not None
    out: dict[str, Any] = {"open_before": list(registry.open)}
    with transaction.atomic(using=f"tenant_{acme}"):
        note = Note.objects.using(f"tenant_{acme}").create(title="first-use")
    out["saved_to"] = note._state.db
    try:
        with transaction.atomic(using=f"tenant_{acme}"):
            Note.objects.using(f"tenant_{acme}").create(title="rolled-back")
            raise Rollback
    except Rollback:
        pass
    with connections[f"tenant_{beta}"].cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM notes_note")
        out["beta_count"] = cursor.fetchone()[0]
    out["open_after"] = sorted(registry.open)
    out["unknown"] = error_of(lambda: connections["tenant_nosuch"])
    out["not_a_tenant"] = error_of(lambda: connections["nosuch"])
    out["invalid"] = error_of(lambda: connections["tenant_../x"])
    return out
