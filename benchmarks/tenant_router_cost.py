"""Nanoseconds per routing decision in a tenant project (tests/tenants/project), through
Django's ``router``: a shared model (``auth.User``) and a tenant model (``notes.Note``, inside
``use_tenant``), with and without the tenant router in front of the package's router.

    python benchmarks/tenant_router_cost.py

Projects without ``tenants`` do not have the tenant router in DATABASE_ROUTERS and run no tenant
code: their routing is unchanged. Prints one JSON line (best of 7 repeats of 100,000 calls).

    python benchmarks/tenant_router_cost.py count CASE N

makes N calls of one case (its key in the JSON line) and prints nothing: counted under
``valgrind --tool=callgrind`` at N and 3N, (count at 3N - count at N) / 2N is the number of
instructions per call, which this machine's load cannot move (one-off costs cancel out).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
folder = tempfile.mkdtemp()
os.environ.update(
    DJANGO_SETTINGS_MODULE="tests.tenants.project.settings",
    TENANT_TEST_DIR=folder,
    TENANT_TEST_DEFAULT_URL="sqlite:///default.sqlite3",
    TENANT_TEST_URL="sqlite:///tenants/{tenant}.sqlite3",
    TENANT_TEST_NAMES="acme",
)

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.db import router  # noqa: E402
from django.test import override_settings  # noqa: E402
from tests.tenants.project.notes.models import Note  # noqa: E402

from django_cfg import use_tenant  # noqa: E402
from django_cfg.settings.routers import ROUTER_PATH  # noqa: E402

N = 100_000
TENANT_CASES = {
    "tenant model, read": lambda: router.db_for_read(Note),
    "tenant model, write": lambda: router.db_for_write(Note),
    "shared model, read, tenant router in front": lambda: router.db_for_read(User),
    "shared model, write, tenant router in front": lambda: router.db_for_write(User),
}
PACKAGE_ROUTER_CASES = {
    "shared model, read, package router only": lambda: router.db_for_read(User),
    "shared model, write, package router only": lambda: router.db_for_write(User),
}


def best(call: object) -> float:
    return min(timeit.repeat(call, number=N, repeat=7)) / N * 1e9  # type: ignore[arg-type]


def count(case: str, calls: int) -> None:
    """``calls`` calls of ``case`` in its context (under valgrind: see the docstring)."""
    tenant = case in TENANT_CASES
    call = (TENANT_CASES if tenant else PACKAGE_ROUTER_CASES)[case]
    with use_tenant("acme") if tenant else override_settings(DATABASE_ROUTERS=[ROUTER_PATH]):
        call()  # the first call builds the routers and the tenant's connection
        for _ in range(calls):
            call()


if sys.argv[1:2] == ["count"]:
    count(sys.argv[2], int(sys.argv[3]))
    sys.exit()

results: dict[str, float] = {}
with use_tenant("acme"):
    assert router.db_for_read(Note) == "tenant_acme"
    results.update({key: best(call) for key, call in TENANT_CASES.items()})
with override_settings(DATABASE_ROUTERS=[ROUTER_PATH]):
    assert router.db_for_read(User) == "default"
    results.update({key: best(call) for key, call in PACKAGE_ROUTER_CASES.items()})
print(json.dumps({key: round(value) for key, value in results.items()}))
