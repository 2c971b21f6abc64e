"""A tenant project's own test, run by tests/tenants/test_testing.py next to a production tenant
whose database is TENANT_TEST_INTRUDER_URL: tenant acme is used (created if the runner did
not), then a tenant is created at the production database's URL, then one recorded there is
opened. Each outcome goes to TENANT_TEST_REPORT; the production database must stay untouched.

Tenants a test creates get aliases that did not exist when a Django ``TransactionTestCase``
started, and Django refuses to connect those ("threaded connections ... are not allowed"):
the test is a plain ``unittest.TestCase`` for ``manage.py test`` and a function with
``django_db_blocker`` for pytest-django, both with the test databases set up."""

import json
import os
import unittest
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections

from django_cfg import use_tenant
from django_cfg.tenants.models import Tenant
from django_cfg.tenants.registry import current_registry
from tests.tenants.project.notes.models import Note


def _refusal(call: Callable[[], object]) -> str:
    """What ``call()`` raised (its type and message), or "" if it did not."""
    try:
        call()
    except Exception as error:  # the outcome is reported, judged by the test that runs this
        return f"{type(error).__name__}: {error}"
    return ""


def try_production_databases() -> None:
    intruder = os.environ["TENANT_TEST_INTRUDER_URL"]
    registry = current_registry()
    assert registry is not None
    listed = registry.fixed is not None  # TenantsConfig.names: the runner made acme's database
    if not listed and not Tenant._default_manager.filter(name="acme").exists():
        call_command("create_tenant", "acme", verbosity=0)
    with use_tenant("acme"):
        Note.objects.create(title="acme-test")
        acme: dict[str, Any] = {"count": Note.objects.count()}
    acme["database"] = connections["tenant_acme"].settings_dict["NAME"]
    created = _refusal(
        lambda: call_command("create_tenant", "intruder", "--url", intruder, verbosity=0)
    )
    Tenant._default_manager.create(name="opened", url=intruder)

    def open_it() -> None:
        with use_tenant("opened"):
            Note.objects.create(title="opened-test")

    report = {"acme": acme, "create": created, "open": _refusal(open_it)}
    registry.close("opened")
    Path(os.environ["TENANT_TEST_REPORT"]).write_text(json.dumps(report))


class ProductionGuardTest(unittest.TestCase):
    __test__ = False  # pytest runs the function below; manage.py test this class
    databases = frozenset({"default"})  # read by Django's runner: default's test database

    def test_no_tenant_of_the_tests_is_a_production_database(self) -> None:
        try_production_databases()


@pytest.mark.django_db
def test_default_is_a_test_database() -> None:
    """Marked: pytest-django sets up default's test database only for a session that has a
    test marked django_db (the function below cannot be: see the module's docstring)."""
    assert Tenant._default_manager.count() == 0


def test_no_tenant_of_the_tests_is_a_production_database(
    django_db_setup: None, django_db_blocker: Any
) -> None:
    with django_db_blocker.unblock():
        try_production_databases()
