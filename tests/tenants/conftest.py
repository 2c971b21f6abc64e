"""Fixtures of the tenant tests."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import POSTGRES_URL
from tests.tenants.project_support import SQLITE_TEMPLATE, TenantProject


@pytest.fixture
def fixed(tmp_path: Path) -> TenantProject:
    """Tenants acme and beta from settings (TenantsConfig.names) on SQLite files, migrated."""
    project = TenantProject(tmp_path, SQLITE_TEMPLATE, names=["acme", "beta"])
    project.manage("migrate_all", "--verbosity", "0")
    return project


@pytest.fixture(autouse=True)
def no_template_left() -> Iterator[None]:
    """The PostgreSQL templates a test's creations made (``tenants.clone``: ``<prefix>_template``
    beside its tenants) are dropped after it: tests sharing a tenant prefix never copy
    another test's template, and none is left on the server."""
    yield
    import psycopg

    base, _, _ = POSTGRES_URL.partition("?")[0].rpartition("/")
    prefix = POSTGRES_URL.partition("?")[0].rpartition("/")[2]
    try:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            for (name,) in admin.execute("SELECT datname FROM pg_database").fetchall():
                if name.startswith(prefix) and name.endswith("__template"):
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
    except psycopg.Error:
        pass  # the server is down: the test that needed it failed already
