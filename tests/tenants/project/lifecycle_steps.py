"""Tenant creation observed and interrupted at its steps (tests/tenants/test_lifecycle.py).

    python -m tests.tenants.project.lifecycle_steps kill STEP NAME  # create_tenant NAME, and
                                                                    # kill -9 of itself at STEP
    python -m tests.tenants.project.lifecycle_steps live NAME       # requests while it is created
    python -m tests.tenants.project.lifecycle_steps kill-drop NAME  # drop_tenant --drop-database,
                                                                    # kill -9 before the drop
    python -m tests.tenants.project.lifecycle_steps probe NAME      # one request: status, titles
    python -m tests.tenants.project.lifecycle_steps api NAME        # the Python API's outcomes
    python -m tests.tenants.project.lifecycle_steps race NAME       # manage.py create_tenant NAME
                                                                    # once a line comes on stdin

Each prints one JSON line (``kill`` prints nothing: it dies).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.tenants.project.settings")

STEPS = ("claimed", "migrating", "created", "half_migrated", "migrated")
"""Where ``kill`` dies: after the row's insert; after the row says MIGRATING (before CREATE
DATABASE); after the database was created; once the first of the tenant's migrations is
committed; after every migration, before the row is marked ready."""
WAIT_SECONDS = 60


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _after(owner: Any, attribute: str, then: Callable[..., None]) -> None:
    """Call ``then(*args)`` after each call of ``owner.attribute(*args)``."""
    original = getattr(owner, attribute)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        then(*args)
        return result

    setattr(owner, attribute, wrapper)


def _after_first_migration(name: str, then: Callable[[], None]) -> list[str]:
    """Call ``then()`` once the first migration of tenant ``name`` is applied (committed),
    whichever way migrate_all applies it; the names of those applied (a list it fills)."""
    from django.db.migrations.executor import MigrationExecutor

    from django_cfg.schema import shared_plan

    applied: list[str] = []

    def on_applied(migration: Any, alias: str) -> None:
        if alias == f"tenant_{name}":
            applied.append(migration.name)
            if len(applied) == 1:
                then()

    _after(
        shared_plan,
        "_apply",
        lambda connection, _, migration, *rest: on_applied(migration, connection.alias),
    )
    _after(
        MigrationExecutor,
        "apply_migration",
        lambda executor, _, migration, *rest: on_applied(migration, executor.connection.alias),
    )
    return applied


def kill(step: str, name: str) -> None:
    from django.core.management import call_command

    from django_cfg.tenants import lifecycle
    from django_cfg.tenants.models import MIGRATING

    if step == "claimed":
        _after(lifecycle, "_claim", lambda *args: _die())
    elif step == "migrating":
        _after(lifecycle, "_set_state", lambda row, state: _die() if state == MIGRATING else None)
    elif step == "created":
        _after(lifecycle, "create_database", lambda *args: _die())
    elif step == "half_migrated":
        _after_first_migration(name, _die)
    elif step == "migrated":
        _after(lifecycle, "_migrate", lambda *args: _die())
    else:
        raise SystemExit(f"unknown step {step!r}: one of {', '.join(STEPS)}")
    call_command("create_tenant", name, verbosity=0)
    print(json.dumps({"survived": step}))


def kill_drop(name: str) -> None:
    """``drop_tenant NAME --drop-database``, killed once the tenant stopped routing, before its
    database is dropped."""
    from django.core.management import call_command

    from django_cfg.tenants import lifecycle

    def die_first(*args: Any) -> None:
        _die()

    lifecycle._drop_database_of = die_first  # type: ignore[assignment]
    call_command("drop_tenant", name, drop_database=True, interactive=False, verbosity=0)
    print(json.dumps({"survived": "drop"}))


def probe(name: str) -> dict[str, Any]:
    """One request to tenant ``name`` through the middleware: its status and note titles."""
    from django.test import Client

    response = Client(raise_request_exception=False).get("/notes/", headers={"x-tenant": name})
    titles = response.json()["titles"] if response.status_code == 200 else None
    return {"status": response.status_code, "titles": titles}


def live(name: str) -> dict[str, Any]:
    """Tenant ``name`` created by ``create_tenant()`` in a thread of this process while this
    thread sends requests to it: at fixed points (the database created, half of its migrations
    recorded, all recorded but the tenant not yet ready) and all along in another thread."""
    from django_cfg.tenants import create_tenant, lifecycle

    points = ["created", "half_migrated", "migrated"]
    reached = {point: threading.Event() for point in points}
    resume = {point: threading.Event() for point in points}

    def pause(point: str) -> None:
        reached[point].set()
        assert resume[point].wait(WAIT_SECONDS), f"not resumed at {point}"

    _after(lifecycle, "create_database", lambda *args: pause("created"))
    recorded = _after_first_migration(name, lambda: pause("half_migrated"))
    _after(lifecycle, "_migrate", lambda *args: pause("migrated"))

    done = threading.Event()
    outcome: dict[str, Any] = {}

    def create() -> None:
        try:
            outcome["how"] = create_tenant(name).how
        except BaseException as error:
            outcome["error"] = repr(error)
            for event in reached.values():
                event.set()
        finally:
            done.set()

    along: list[int] = []

    def request_all_along() -> None:
        for _ in range(5000):  # bounded: the creation ends long before
            along.append(probe(name)["status"])
            if done.is_set():
                return

    creator = threading.Thread(target=create)
    requester = threading.Thread(target=request_all_along)
    requester.start()
    creator.start()
    at: dict[str, list[int]] = {}
    for point in points:
        assert reached[point].wait(WAIT_SECONDS), f"creation never reached {point}"
        at[point] = [probe(name)["status"] for _ in range(5)]
        resume[point].set()
    creator.join(WAIT_SECONDS)
    requester.join(WAIT_SECONDS)
    return {
        **outcome,
        "at": at,
        "recorded": recorded,
        "along": sorted(set(along)),
        "along_after_first_200": sorted(set(along[along.index(200) :])) if 200 in along else [],
        "after": probe(name),
    }


def race(name: str) -> None:
    """``manage.py create_tenant NAME`` (its exit status and output), started when a line
    arrives on stdin: Django is set up by then, so racing processes start within a moment."""
    from django.core.management import execute_from_command_line

    print("ready", flush=True)
    sys.stdin.readline()
    execute_from_command_line(["manage.py", "create_tenant", name])


def api(name: str) -> dict[str, Any]:
    """``create_tenant()`` / ``drop_tenant()`` as a sign-up flow calls them: what each returns
    or raises (the exception's class and message)."""
    from django.db import transaction

    from django_cfg.tenants import TenantLifecycleError, create_tenant, drop_tenant

    def outcome(call: Callable[[], Any]) -> Any:
        try:
            result = call()
        except TenantLifecycleError as error:
            return f"{type(error).__name__}: {error}"
        return {"how": result.how} if hasattr(result, "how") else vars(result)

    out: dict[str, Any] = {}
    with transaction.atomic():
        out["in_transaction"] = outcome(lambda: create_tenant(name))
    barrier = threading.Barrier(4)
    racers: list[Any] = []

    def race() -> None:
        barrier.wait(WAIT_SECONDS)
        racers.append(outcome(lambda: create_tenant(name)))

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_SECONDS)
    out["threads"] = racers
    out["again"] = outcome(lambda: create_tenant(name))
    out["drop"] = outcome(lambda: drop_tenant(name))
    out["recreate"] = outcome(lambda: create_tenant(name))
    out["adopt"] = outcome(lambda: create_tenant(name, adopt=True))
    out["probe"] = probe(name)
    return out


if __name__ == "__main__":
    import django

    django.setup()
    command, *args = sys.argv[1:]
    if command == "kill":
        kill(*args)
    elif command == "kill-drop":
        kill_drop(*args)
    elif command == "race":
        race(*args)
    else:
        print(json.dumps({"live": live, "probe": probe, "api": api}[command](*args)))
