"""Shared services that follow the tenant, each opt-in with one setting (docs/tenants.md,
"Cache, files, logs and sessions"): cache keys, file storage, log lines, ``on_commit``
callbacks, sessions; in the tenant test project, tenants on SQLite files and on PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import POSTGRES_URL, sibling_url
from tests.tenants.project_support import SQLITE_TEMPLATE, TenantProject

SERVICES = "tests.tenants.project.services_scenarios"  # imports the tenant apps' models


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def project(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[TenantProject, list[str]]]:
    if request.param == "sqlite":
        fixed = TenantProject(tmp_path, SQLITE_TEMPLATE, names=["acme", "beta"])
        fixed.manage("migrate_all", "--verbosity", "0")
        yield fixed, ["acme", "beta"]
        return
    suffix = secrets.token_hex(3)
    names = [f"acme{suffix}", f"beta{suffix}"]
    table = TenantProject(tmp_path, sibling_url(POSTGRES_URL, "_t_{tenant}"))
    table.manage("migrate_all", "--verbosity", "0")
    try:
        for name in names:
            table.manage("create_tenant", name, "--verbosity", "0")
        yield table, names
    finally:
        for name in names:
            table.manage("drop_tenant", name, "--drop-database", "--noinput", check=False)


def test_a_cache_key_set_in_one_tenant_is_invisible_to_another(
    project: tuple[TenantProject, list[str]],
) -> None:
    tenants, (acme, beta) = project
    out = tenants.scenario(f"{SERVICES}:cache", acme, beta)
    expected = {acme: f"{acme}-stats", beta: f"{beta}-stats", "None": "None-stats"}
    for backend in ("locmem", "redis", "database"):
        seen = out[backend]
        # each tenant reads its own entry, no tenant the shared one; a delete in acme is acme's
        assert seen == {**expected, "other after delete": f"{beta}-stats"}, backend
    # Django's own key function shares one entry between tenants (what the setting fixes)
    assert out["without key function"] == "written without the key function"
    assert out["keys"] == {
        acme: f"app:2@{acme}:stats",
        beta: f"app:2@{beta}:stats",
        "None": "app:2:stats",  # Django's key: entries written before the setting stay readable
    }
    # the database cache is one table on default: the tenants' entries apart by their keys
    assert out["database keys"] == [":1:stats", f":1@{acme}:where", f":1@{beta}:stats"]


def test_files_of_a_tenant_are_in_its_own_folder(
    project: tuple[TenantProject, list[str]],
) -> None:
    tenants, (acme, beta) = project
    out = tenants.scenario(f"{SERVICES}:storage", acme, beta)
    media = tenants.root / "media"
    for name in (acme, beta):
        assert out[name] == {
            "name": "report.txt",
            "path": str(media / name / "report.txt"),
            "url": f"/media/{name}/report.txt",
            "read": f"{name}'s report",
        }
    assert out["None"]["path"] == str(media / "report.txt")
    assert out["None"]["url"] == "/media/report.txt"
    assert out["other has first's name"] is False
    assert out["traversal"] == "SuspiciousFileOperation"
    assert (media / acme / "report.txt").read_text() == f"{acme}'s report"


def test_log_lines_name_the_tenant_and_sql_lines_the_tenant_of_their_database(
    project: tuple[TenantProject, list[str]],
) -> None:
    tenants, (acme, beta) = project
    lines = tenants.scenario(f"{SERVICES}:log_lines", acme, beta)["lines"]
    # (on PostgreSQL, also the registry's reads of the tenants table and connection setup)
    sql = [line for line in lines if " django.db.backends " in line and "notes_note" in line]
    assert [line.partition("]")[0] for line in sql] == [
        f"[tenant={acme}",
        f"[tenant={beta}",
        f"[tenant={beta}",  # .using(beta's database) inside acme's block: the SQL ran in beta
    ]
    assert all(line.endswith(f"alias=tenant_{line[8:].partition(']')[0]}") for line in sql)
    assert [line for line in lines if " notes.views " in line] == [
        f"[tenant={acme}] notes.views listing notes",
        f"[tenant={beta}] notes.views listing notes",
        "[tenant=-] notes.views no tenant here",
    ]


def test_on_commit_callbacks_run_as_the_tenant_that_registered_them(
    project: tuple[TenantProject, list[str]],
) -> None:
    tenants, (acme, beta) = project
    out = tenants.scenario(f"{SERVICES}:on_commit", acme, beta)
    # registered inside each tenant's block, run when default's transaction committed, after it
    assert out["first"] == {"tenant": acme, "titles": [f"{acme}-committed"]}
    assert out["second"] == {"tenant": beta, "titles": []}
    assert out["none"] is None
    assert out["first, commit inside second"] == {"tenant": acme, "titles": [f"{acme}-committed"]}


def test_sessions_of_tenant_requests_are_shared_rows_on_default(
    project: tuple[TenantProject, list[str]],
) -> None:
    tenants, (acme, beta) = project
    out = tenants.scenario(f"{SERVICES}:sessions", acme, beta)
    assert out == {"db": "default", "read with no tenant": [1, 2], "request": 200}
