"""The pytest-django recipe of docs/tenants.md ("Testing a tenant project"), as a user's
conftest.py: the tenants' test databases are created and dropped with Django's, and none of
them is a production tenant's database (read before Django's test databases replace default)."""

import pytest

from django_cfg.tenants.testing import ProductionDatabases, tenant_test_databases, xdist_worker


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings, django_db_blocker):
    with django_db_blocker.unblock():  # default is still the production database here
        return ProductionDatabases.read()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker, django_db_modify_db_settings, request):
    keepdb = request.config.getvalue("reuse_db")
    production = django_db_modify_db_settings
    worker = xdist_worker(request)  # pytest-xdist: this worker's own tenant databases
    with (
        django_db_blocker.unblock(),
        tenant_test_databases(keepdb=keepdb, production=production, worker=worker),
    ):
        yield
