"""Fixtures of the tenant tests."""

from pathlib import Path

import pytest

from tests.tenants.project_support import SQLITE_TEMPLATE, TenantProject


@pytest.fixture
def fixed(tmp_path: Path) -> TenantProject:
    """Tenants acme and beta from settings (TenantsConfig.names) on SQLite files, migrated."""
    project = TenantProject(tmp_path, SQLITE_TEMPLATE, names=["acme", "beta"])
    project.manage("migrate_all", "--verbosity", "0")
    return project
