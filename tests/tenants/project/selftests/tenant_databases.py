"""A tenant project's own test, run by tests/tenants/test_testing.py with ``manage.py test
--testrunner django_cfg.tenants.testing.TenantDiscoverRunner`` and with pytest-django (the
conftest.py beside it). It writes where each tenant's test database is, and what a row written
there looks like read back with the bare driver, to TENANT_TEST_REPORT."""

import json
import os
import sqlite3
from contextlib import closing
from pathlib import Path

from django.db import connections
from django.test import TransactionTestCase

from django_cfg import use_tenant
from django_cfg.tenants.registry import current_registry
from tests.tenants.project.notes.models import Note


def _read_back(alias: str) -> list[str]:
    """The titles in ``alias``'s database, read without Django."""
    settings_dict = connections[alias].settings_dict
    sql = "SELECT title FROM notes_note ORDER BY title"
    if settings_dict["ENGINE"].endswith("sqlite3"):
        with closing(sqlite3.connect(settings_dict["NAME"])) as connection:
            return [title for (title,) in connection.execute(sql)]
    import psycopg

    with psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"],
        user=settings_dict["USER"],
        dbname=settings_dict["NAME"],
    ) as connection:
        return [title for (title,) in connection.execute(sql)]


class TenantDatabasesTest(TransactionTestCase):
    databases = "__all__"

    def test_tenant_rows_land_in_the_tenant_test_databases(self) -> None:
        registry = current_registry()
        assert registry is not None
        names = sorted(registry.fixed or registry.names())
        assert names == ["acme", "beta"]
        report = {}
        for name in names:
            with use_tenant(name):
                Note.objects.create(title=f"{name}-test")
                count = Note.objects.count()
            alias = f"tenant_{name}"
            report[name] = {
                "database": connections[alias].settings_dict["NAME"],
                "count": count,
                "read_back": _read_back(alias),
            }
        Path(os.environ["TENANT_TEST_REPORT"]).write_text(json.dumps(report))
        assert [entry["read_back"] for entry in report.values()] == [[f"{n}-test"] for n in names]
