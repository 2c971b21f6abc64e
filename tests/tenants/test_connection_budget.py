"""What a process holds on the server for its tenants (docs/tenants.md, "Connection budget"): a
tenant closed for ``max_open`` leaves no connection behind, also with Django's connection pool
(``?pool_min_size=...``), and comes back with a pool of its own when used again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from django_cfg import use_tenant
from tests.tenants.project_support import TenantProject, postgres_tenant_databases


def pooled_backends(args: list[str]) -> dict[str, Any]:
    """Query each tenant of NAMES in turn, then the first again (max_open=1 closes the one
    before each time); the backends on databases named PREFIX* after each query."""
    import psycopg

    from django_cfg.tenants.registry import current_registry
    from tests.tenants.project.notes.models import Note

    prefix, *names = args
    registry = current_registry()
    assert registry is not None
    server = registry.database(names[0])

    def backends() -> int:
        with psycopg.connect(
            host=server.host, port=server.port, user=server.user, dbname="postgres"
        ) as connection:
            row = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE %s", (prefix + "%",)
            ).fetchone()
            assert row is not None
            return int(row[0])

    counts, titles = [], []
    for name in [*names, names[0]]:
        with use_tenant(name):
            Note.objects.create(title=f"by {name}")
            titles.append(sorted(Note.objects.values_list("title", flat=True)))
        counts.append(backends())
    return {"backends": counts, "titles": titles, "open": list(registry.open)}


@pytest.mark.postgres
def test_a_pooled_tenant_closed_for_max_open_leaves_no_connection(tmp_path: Path) -> None:
    """max_open=1, three tenants with Django's pool (at most 2 connections each): after each
    query only the open tenant's pool holds backends (before: every pool ever opened kept its
    own, 2, 4, 6, 6 here); the first tenant, reopened, is served again."""
    names = ["t0", "t1", "t2"]
    pool = "pool_min_size=1&pool_max_size=2"
    with postgres_tenant_databases("cb", names, pool) as (template, prefix):
        project = TenantProject(tmp_path, template, names=names, max_open=1)
        project.manage("migrate_all", "--verbosity", "0")
        out = project.scenario(pooled_backends, prefix, *names)
    assert out["open"] == ["t0"], out
    assert max(out["backends"]) <= 2, out
    assert out["titles"] == [["by t0"], ["by t1"], ["by t2"], ["by t0", "by t0"]], out
