"""A tenant's creation and drop (django_cfg.tenants.lifecycle): routable only once migrated,
resumable after kill -9 at any step, one winner among concurrent creations, and a recycled
name never inherits the database of the tenant that had it. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.services import POSTGRES_URL, sibling_url
from tests.support.spec_page import run_process, user_environment
from tests.tenants.project.scenarios import write
from tests.tenants.project_support import (
    ROOT,
    RUN,
    SQLITE_TEMPLATE,
    Scenario,
    TenantProject,
    create_server_database,
    drop_server_database,
    scenario_path,
    server_databases,
    server_rows,
)

CONCURRENT = 6  # create_tenant processes racing for one name
STEPS = ("claimed", "migrating", "created", "half_migrated", "migrated")
"""Where ``create_killed_at`` dies: after the row's insert; after the row says MIGRATING (before
CREATE DATABASE); after the database was created; once the first of the tenant's migrations is
committed; after every migration, before the row is marked ready."""
WAIT_SECONDS = 60


@dataclass
class Setup:
    project: TenantProject
    family: str
    suffix: str

    def tenant(self, base: str) -> str:
        return f"{base}{self.suffix}"

    def tables(self, name: str) -> set[str]:
        """The tables of tenant ``name``'s database at the template's place (none: missing)."""
        if self.family == "sqlite":
            path = self.project.root / "tenants" / f"{name}.sqlite3"
            return self.project.sqlite_tables(f"tenants/{name}.sqlite3") if path.exists() else set()
        url = self.project.tenant_url.replace("{tenant}", name)
        if url.rpartition("/")[2] not in server_databases(url):
            return set()
        rows = server_rows(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {table for (table,) in rows}

    def rows(self) -> dict[str, str]:
        """The tenants table: name -> state."""
        sql = "SELECT name, state FROM django_cfg_tenant"
        if self.family == "sqlite":
            return dict(self.project.sqlite_rows("default.sqlite3", sql))
        return dict(server_rows(self.project.default_url, sql))

    def steps(self, scenario: Scenario, *args: str) -> subprocess.CompletedProcess[str]:
        """``scenario`` in a process of the project, which may be killed: the process."""
        command = [sys.executable, *RUN, scenario_path(scenario), *args]
        return run_process(command, cwd=ROOT, env=self.project.env, timeout=300)

    def probe(self, name: str) -> dict[str, Any]:
        return self.project.scenario(probe_notes, name)

    def drop_and_create_again(self, name: str) -> None:
        """``drop_tenant --drop-database`` removes tenant ``name``, its row and its database;
        ``create_tenant`` then makes it anew, empty, a copy of the template its first made."""
        dropped = self.project.manage("drop_tenant", name, "--drop-database", "--noinput")
        assert f"Tenant {name!r} removed; database " in dropped
        assert "dropped." in dropped
        assert name not in self.rows()
        assert self.tables(name) == set()
        again = self.project.manage("create_tenant", name)
        assert "(created), copied from the migrated template, recorded." in again
        assert self.probe(name) == {"status": 200, "titles": []}


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    suffix = secrets.token_hex(3)
    if request.param == "sqlite":
        project = TenantProject(tmp_path, SQLITE_TEMPLATE)
        created: list[str] = []
    else:
        default = sibling_url(POSTGRES_URL, f"_lc{suffix}")
        create_server_database(default)
        created = [default]
        project = TenantProject(
            tmp_path, sibling_url(POSTGRES_URL, "_lc_{tenant}"), default_url=default
        )
        # The template new tenants are copied from (tenants.clone): each test starts without.
        created.append(project.tenant_url.replace("{tenant}", "_template"))
        drop_server_database(created[-1])
    project.manage("migrate_all", "--verbosity", "0")
    try:
        yield Setup(project, request.param, suffix)
    finally:
        if request.param == "postgresql":
            template = project.tenant_url
            prefix = template.partition("?")[0].rpartition("/")[2].replace("{tenant}", "")
            for database in server_databases(template.replace("{tenant}", "x")):
                if database.startswith(prefix) and database.endswith(suffix):
                    drop_server_database(template.replace("{tenant}", database[len(prefix) :]))
            for url in created:
                drop_server_database(url)


@pytest.mark.parametrize("step", STEPS)
def test_create_tenant_killed_at_any_step_is_finished_by_running_it_again(
    setup: Setup, step: str
) -> None:
    name = setup.tenant("k" + step.replace("_", "")[:8])
    killed = setup.steps(create_killed_at, step, name)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    assert setup.rows()[name] in {"creating", "migrating"}  # recorded, not ready
    assert setup.probe(name)["status"] == 404  # not routable meanwhile
    listed = setup.project.manage("migrate_all", "--check")  # every tenant: it is none yet
    assert f"tenant_{name}" not in listed

    again = setup.project.manage("create_tenant", name)
    assert f"Tenant {name!r}: database" in again
    assert "migrated, recorded." in again
    assert setup.rows()[name] == ""
    assert {"notes_note", "django_cfg_deleteintent"} <= setup.tables(name)
    setup.project.scenario(write, name)
    assert setup.probe(name) == {"status": 200, "titles": [f"{name}-row"]}
    assert f"tenant_{name}: up to date" in setup.project.manage("migrate_all", "--check")


def test_a_tenant_answers_404_until_its_creation_is_done(setup: Setup) -> None:
    name = setup.tenant("live")
    run = setup.steps(create_while_requested, name)
    assert run.returncode == 0, run.stdout + run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert "error" not in out, out
    assert out["how"] == "created"
    assert len(out["recorded"]) >= 2  # paused with one migration of several recorded
    assert out["at"] == {point: [404] * 5 for point in ("created", "half_migrated", "migrated")}
    assert set(out["along"]) <= {404, 200}  # never a 500 while it was being created
    assert out["along_after_first_200"] in ([], [200])  # once routable, it stays so
    assert out["after"] == {"status": 200, "titles": []}


def test_concurrent_creations_of_one_name_end_with_one_tenant(setup: Setup) -> None:
    name = setup.tenant("race")
    processes = [
        subprocess.Popen(
            [sys.executable, *RUN, scenario_path(create_on_go), name],
            cwd=ROOT,
            env=user_environment(setup.project.env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(CONCURRENT)
    ]
    for process in processes:  # each one set up, waiting for its line
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
    for process in processes:  # then all at once
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    outputs = [process.communicate(timeout=300) for process in processes]
    results = [(p.returncode, out, err) for p, (out, err) in zip(processes, outputs, strict=True)]
    winners = [out for code, out, _ in results if code == 0]
    losers = [(code, err) for code, _, err in results if code != 0]
    assert len(winners) == 1, results
    assert "(created), migrated, recorded." in winners[0]
    assert len(losers) == CONCURRENT - 1
    for code, err in losers:
        assert code == 1, err
        assert f"Tenant {name!r} already exists" in err
        assert "Traceback" not in err
    assert setup.rows() == {name: ""}
    setup.project.scenario(write, name)
    assert setup.probe(name) == {"status": 200, "titles": [f"{name}-row"]}


def test_a_recycled_name_does_not_inherit_the_dropped_tenants_database(setup: Setup) -> None:
    project, name = setup.project, setup.tenant("reuse")
    project.manage("create_tenant", name)
    project.scenario(write, name)
    kept = project.manage("drop_tenant", name, "--noinput")
    assert f"Tenant {name!r} removed; its database " in kept
    where = (
        project.tenant_url.replace("{tenant}", name).partition("?")[0].rpartition("/")[2]
        if setup.family == "postgresql"
        else f"{project.root}/tenants/{name}.sqlite3"
    )
    assert where in kept
    assert "is kept, with its data" in kept
    assert "notes_note" in setup.tables(name)

    code, refused = project.status("create_tenant", name)
    assert code == 1, refused
    assert f"Tenant {name!r} was not created: its database " in refused
    assert where in refused
    assert f"(tenant_{name})" in refused
    assert "notes_note" in refused
    assert "--adopt" in refused
    assert "Traceback" not in refused
    assert name not in setup.rows()  # nothing recorded
    assert setup.probe(name)["status"] == 404

    adopted = project.manage("create_tenant", name, "--adopt")
    assert "(adopted), migrated, recorded." in adopted
    assert setup.probe(name) == {"status": 200, "titles": [f"{name}-row"]}

    setup.drop_and_create_again(name)


def test_the_python_api_for_sign_up_flows(tmp_path: Path) -> None:
    project = TenantProject(tmp_path, SQLITE_TEMPLATE)
    project.manage("migrate_all", "--verbosity", "0")
    run = Setup(project, "sqlite", "").steps(sign_up_calls, "signup")
    assert run.returncode == 0, run.stdout + run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["in_transaction"].startswith("TenantLifecycleError: create_tenant('signup') ")
    assert "inside a transaction on 'default'" in out["in_transaction"]
    # 4 threads of one process at once: one tenant, the 3 others told it exists
    assert [o for o in out["threads"] if isinstance(o, dict)] == [{"how": "created"}]
    losers = [o for o in out["threads"] if not isinstance(o, dict)]
    assert len(losers) == 3
    assert all(o.startswith("TenantExistsError: Tenant 'signup' already exists") for o in losers)
    assert out["again"] == "TenantExistsError: Tenant 'signup' already exists."
    database = f"sqlite:///tenants/signup.sqlite3 (file {tmp_path}/tenants/signup.sqlite3)"
    assert out["drop"] == {"name": "signup", "database": database, "dropped": False}
    assert out["recreate"].startswith(
        f"TenantLifecycleError: Tenant 'signup' was not created: its database {database} "
        "(tenant_signup) already exists and holds "
    )
    assert out["adopt"] == {"how": "adopted"}
    assert out["probe"] == {"status": 200, "titles": []}


def test_drop_tenant_killed_before_the_drop_is_finished_by_running_it_again(
    setup: Setup,
) -> None:
    project, name = setup.project, setup.tenant("half")
    project.manage("create_tenant", name)
    project.scenario(write, name)
    killed = setup.steps(drop_killed, name)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    assert setup.rows() == {name: "dropping"}  # not routable any more
    assert setup.probe(name)["status"] == 404
    assert "notes_note" in setup.tables(name)  # not dropped yet

    code, refused = project.status("create_tenant", name)  # the old data is not taken over
    assert code == 1, refused
    assert "is half dropped" in refused
    assert f"run drop_tenant {name} --drop-database to finish the drop" in refused
    assert "Traceback" not in refused
    assert setup.rows() == {name: "dropping"}
    assert "notes_note" in setup.tables(name)

    setup.drop_and_create_again(name)


def test_commands_are_quiet_at_verbosity_0_and_never_wait_for_an_answer(tmp_path: Path) -> None:
    project = TenantProject(tmp_path, SQLITE_TEMPLATE)
    project.manage("migrate_all", "--verbosity", "0")
    assert project.manage("create_tenant", "quiet", "-v", "0") == ""
    run = run_process(  # stdin is not a terminal, and empty
        [sys.executable, "-m", "tests.tenants.project.run", "manage", "drop_tenant", "quiet"],
        cwd=ROOT,
        env=project.env,
        stdin="",
    )
    code, out = run.returncode, run.stdout + run.stderr
    assert code == 1
    assert "Pass --noinput" in out
    assert "Traceback" not in out
    assert project.sqlite_rows("default.sqlite3", "SELECT name FROM django_cfg_tenant") == [
        ("quiet",)
    ]
    assert project.manage("drop_tenant", "quiet", "--noinput", "-v", "0") == ""
    assert project.sqlite_rows("default.sqlite3", "SELECT name FROM django_cfg_tenant") == []


# Scenarios, run in a process of the tenant project (TenantProject.scenario)


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


def create_killed_at(args: list[str]) -> dict[str, Any]:
    """``create_tenant NAME``, killed (kill -9 of itself) at STEP."""
    step, name = args
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
    return {"survived": step}


def drop_killed(args: list[str]) -> dict[str, Any]:
    """``drop_tenant NAME --drop-database``, killed once the tenant stopped routing, before its
    database is dropped."""
    (name,) = args
    from django.core.management import call_command

    from django_cfg.tenants import lifecycle

    def die_first(*args: Any) -> None:
        _die()

    lifecycle._drop_database_of = die_first  # type: ignore[assignment]
    call_command("drop_tenant", name, drop_database=True, interactive=False, verbosity=0)
    return {"survived": "drop"}


def _probe(name: str) -> dict[str, Any]:
    """One request to tenant ``name`` through the middleware: its status and note titles."""
    from django.test import Client

    response = Client(raise_request_exception=False).get("/notes/", headers={"x-tenant": name})
    titles = response.json()["titles"] if response.status_code == 200 else None
    return {"status": response.status_code, "titles": titles}


def probe_notes(args: list[str]) -> dict[str, Any]:
    """``_probe(NAME)``."""
    (name,) = args
    return _probe(name)


def create_while_requested(args: list[str]) -> dict[str, Any]:
    """Tenant ``name`` created by ``create_tenant()`` in a thread of this process while this
    thread sends requests to it: at fixed points (the database created, half of its migrations
    recorded, all recorded but the tenant not yet ready) and all along in another thread."""
    (name,) = args
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
            along.append(_probe(name)["status"])
            if done.is_set():
                return

    creator = threading.Thread(target=create)
    requester = threading.Thread(target=request_all_along)
    requester.start()
    creator.start()
    at: dict[str, list[int]] = {}
    for point in points:
        assert reached[point].wait(WAIT_SECONDS), f"creation never reached {point}"
        at[point] = [_probe(name)["status"] for _ in range(5)]
        resume[point].set()
    creator.join(WAIT_SECONDS)
    requester.join(WAIT_SECONDS)
    return {
        **outcome,
        "at": at,
        "recorded": recorded,
        "along": sorted(set(along)),
        "along_after_first_200": sorted(set(along[along.index(200) :])) if 200 in along else [],
        "after": _probe(name),
    }


def create_on_go(args: list[str]) -> dict[str, Any]:
    """``manage.py create_tenant NAME`` (its exit status and output), started when a line
    arrives on stdin: Django is set up by then, so racing processes start within a moment."""
    (name,) = args
    from django.core.management import execute_from_command_line

    print("ready", flush=True)
    sys.stdin.readline()
    execute_from_command_line(["manage.py", "create_tenant", name])
    return {}


def sign_up_calls(args: list[str]) -> dict[str, Any]:
    """``create_tenant()`` / ``drop_tenant()`` as a sign-up flow calls them: what each returns
    or raises (the exception's class and message)."""
    (name,) = args
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
    out["probe"] = _probe(name)
    return out
