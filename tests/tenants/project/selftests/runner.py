"""The runner of a tenant project that keeps its tenants in the tenants table: the tests'
tenants are created (recorded, database created and migrated) before the first test."""

from django_cfg.tenants.testing import TenantDiscoverRunner


class TableTenantsRunner(TenantDiscoverRunner):
    tenants = ["acme", "beta"]
