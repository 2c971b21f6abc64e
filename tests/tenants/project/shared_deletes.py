"""Deleting a shared user that every tenant references: run by tests/tenants/test_shared_delete.

    python -m tests.tenants.project.shared_deletes SCENARIO [ARGS]     (prints one JSON object)

With TENANT_TEST_SHARED_DELETE=1 (the tenant app ``assignments`` installed).

- ``seed [protect_in]``: users ann (to delete) and bob (kept) on default; in every tenant two
  notes of ann (CASCADE), one of bob, two tasks of ann (SET_NULL), one of bob; with
  ``protect_in``, a hold on ann (PROTECT) in that tenant.
- ``delete USER TENANT|-``: ``user.delete()`` with TENANT selected (``-``: none).
- ``admin USER TENANT|- [post]``: the admin's delete page of USER as a superuser (GET, or the
  POST that confirms), with the X-Tenant header of TENANT (``-``: a plain host).
- ``crash USER TENANT``: ``user.delete()`` with no tenant selected, killed with SIGKILL by a
  post_delete receiver of its first note deleted in tenant TENANT (mid-sweep).
- ``timed USER``: ``user.delete()`` with no tenant selected: seconds taken, and the most tenant
  databases open at once in this process while it ran.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.tenants.project.settings")
django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.db.models import ProtectedError  # noqa: E402
from django.db.models.signals import post_delete  # noqa: E402
from django.test import Client  # noqa: E402

from django_cfg import use_tenant  # noqa: E402
from django_cfg.tenants.registry import current_registry  # noqa: E402
from tests.tenants.project.assignments.models import Hold, Task  # noqa: E402
from tests.tenants.project.notes.models import Note  # noqa: E402


def _tenants() -> list[str]:
    registry = current_registry()
    assert registry is not None
    return registry.names()


def seed(args: list[str]) -> dict[str, Any]:
    protect_in = args[0] if args else None
    ann = User.objects.create(username="ann")
    bob = User.objects.create(username="bob")
    for name in _tenants():
        with use_tenant(name):
            Note.objects.bulk_create(
                [Note(title=f"{name}-ann-{i}", author=ann) for i in (1, 2)]
                + [Note(title=f"{name}-bob", author=bob)]
            )
            Task.objects.bulk_create(
                [Task(title=f"{name}-ann-{i}", assignee=ann) for i in (1, 2)]
                + [Task(title=f"{name}-bob", assignee=bob)]
            )
            if name == protect_in:
                Hold.objects.create(reason=f"{name} keeps ann", owner=ann)
    return {"ann": ann.pk, "bob": bob.pk}


def delete(args: list[str]) -> dict[str, Any]:
    username, tenant = args
    user = User.objects.get(username=username)
    try:
        with use_tenant(None if tenant == "-" else tenant):
            count, per_model = user.delete()
    except ProtectedError as error:
        protected = sorted(str(obj) for obj in error.protected_objects)
        return {"protected": str(error), "objects": protected}
    return {"count": count, "per_model": per_model}


def admin(args: list[str]) -> dict[str, Any]:
    username, tenant, *post = args
    admin_user, _ = User.objects.get_or_create(
        username="root", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(admin_user)
    user = User.objects.get(username=username)
    headers = {} if tenant == "-" else {"X-Tenant": tenant}
    url = f"/admin/auth/user/{user.pk}/delete/"
    if post:
        response = client.post(url, {"post": "yes"}, headers=headers)
    else:
        response = client.get(url, headers=headers)
    return {"status": response.status_code, "page": response.content.decode()}


def crash(args: list[str]) -> dict[str, Any]:
    username, tenant = args

    def die(sender: Any, instance: Note, using: str, **kwargs: Any) -> None:
        if using == f"tenant_{tenant}":
            os.kill(os.getpid(), signal.SIGKILL)  # mid-sweep, inside that tenant's transaction

    post_delete.connect(die, sender=Note)
    User.objects.get(username=username).delete()
    return {"survived": True}  # never printed: the receiver kills the process


def timed(args: list[str]) -> dict[str, Any]:
    (username,) = args
    registry = current_registry()
    assert registry is not None
    peak = 0

    def watch(sender: Any, **kwargs: Any) -> None:
        nonlocal peak
        peak = max(peak, len(registry.open))

    post_delete.connect(watch, sender=Note)
    user = User.objects.get(username=username)
    start = time.perf_counter()
    count, _ = user.delete()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "count": count, "peak_open": peak, "open_after": len(registry.open)}


SCENARIOS = {"seed": seed, "delete": delete, "admin": admin, "crash": crash, "timed": timed}

if __name__ == "__main__":
    print(json.dumps(SCENARIOS[sys.argv[1]](sys.argv[2:])))
