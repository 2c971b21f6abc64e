"""A tenant's alias works as the first use of the tenant in a process (patches.py, patch 8):
``transaction.atomic(using="tenant_acme")``, ``.using("tenant_acme")``,
``connections["tenant_acme"]``, as a Celery task or a command starts."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.support.services import POSTGRES_URL, sibling_url
from tests.support.spec_page import run_python
from tests.tenants.project_support import (
    ROOT,
    TenantProject,
    drop_server_database,
    server_rows,
    sqlite_titles,
)


def first_use(project: TenantProject, acme: str, beta: str) -> dict[str, Any]:
    output = run_python(
        "-m", "tests.tenants.scenarios_context", "first_use", acme, beta,
        cwd=ROOT, env=project.env,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


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
    out = first_use(fixed, "acme", "beta")  # was: ConnectionDoesNotExist at the first line
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
        out = first_use(project, acme, beta)
        check(out, acme, beta)
        rows = server_rows(template.replace("{tenant}", acme), "SELECT title FROM notes_note")
        assert rows == [("first-use",)]
    finally:
        for name in (acme, beta):
            drop_server_database(template.replace("{tenant}", name))
