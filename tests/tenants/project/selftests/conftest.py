"""The pytest-django recipe of docs/tenants.md ("Testing a tenant project"), as a user's
conftest.py: the tenants' test databases are created and dropped with Django's."""

import pytest

from django_cfg.tenants.testing import tenant_test_databases


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker, request):
    keepdb = request.config.getvalue("reuse_db")
    with django_db_blocker.unblock(), tenant_test_databases(keepdb=keepdb):
        yield
