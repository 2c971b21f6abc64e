"""A tenant project's suite for pytest-xdist (tests/tenants/test_xdist.py runs it with -n 2):
every test writes a note in each tenant and expects to find exactly that one, which holds only
when no other worker uses the same tenant test databases; each test writes which databases it
used to TENANT_TEST_REPORT/<test>.json."""

import json
import os
from pathlib import Path

from django.db import connections
from django.test import TransactionTestCase

from django_cfg import use_tenant
from tests.tenants.project.notes.models import Note


class XdistTenantsTest(TransactionTestCase):
    databases = "__all__"

    def check_isolated(self, test: str) -> None:
        databases = {}
        for name in ("acme", "beta"):
            with use_tenant(name):
                Note.objects.create(title=f"{name}-{test}")
                titles = list(Note.objects.values_list("title", flat=True))
                assert titles == [f"{name}-{test}"], titles
            databases[name] = str(connections[f"tenant_{name}"].settings_dict["NAME"])
        report = Path(os.environ["TENANT_TEST_REPORT"]) / f"{test}.json"
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        report.write_text(json.dumps({"worker": worker, "databases": databases}))


for number in range(8):  # enough tests for both workers to run several at once
    setattr(
        XdistTenantsTest,
        f"test_{number}",
        lambda self, number=number: self.check_isolated(f"test_{number}"),
    )
