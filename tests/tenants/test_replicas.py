"""Replicas per tenant (TenantsConfig.replica_url): which database served each read, in the
tenant test project (tests/tenants/project).

On SQLite the "replica" is a copy of the tenant's file taken by the test (``snapshot``): it has
the rows of that moment only, so a read that finds a later row came from the primary. On
PostgreSQL it is the real streaming replica (5433): tenant databases created on 5432 appear
there, and the scenarios ask the connection that served a read ``pg_is_in_recovery()`` and
``inet_server_port()``.
"""

from __future__ import annotations

import contextvars
import dataclasses
import json
import re
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connections, transaction
from django.test import Client

from django_cfg import DatabaseConfig, use_primary, use_tenant
from django_cfg.runtime.runtime import current_runtime
from django_cfg.tenants.registry import current_registry
from tests.support.replica_tools import replay_paused, start_replica, wait_for_replica
from tests.support.services import POSTGRES_URL, REPLICA_URL, sibling_url
from tests.tenants.project.scenarios import write
from tests.tenants.project_support import TenantProject, server_databases
from tests.tenants.test_sqlite import lru

TEMPLATE = "sqlite:///tenants/{tenant}.sqlite3"
REPLICA = "sqlite:///replicas/{tenant}.sqlite3"


def snapshot(project: TenantProject, *names: str) -> None:
    """Each tenant's replica file becomes a copy of its database file as it is now."""
    for name in names:
        (project.root / "replicas").mkdir(exist_ok=True)
        shutil.copyfile(
            project.root / "tenants" / f"{name}.sqlite3",
            project.root / "replicas" / f"{name}.sqlite3",
        )


def titles_in(project: TenantProject, folder: str, name: str) -> list[str]:
    rows = project.sqlite_rows(f"{folder}/{name}.sqlite3", "SELECT title FROM notes_note")
    return sorted(title for (title,) in rows)


def on_replica(read: dict[str, Any], name: str) -> bool:
    return read["db"] == f"tenant_{name}.replica" and not read["serving_primary"]


# SQLite ------------------------------------------------------------------------------------------


@pytest.fixture
def sqlite_project(tmp_path: Path) -> TenantProject:
    project = TenantProject(tmp_path, TEMPLATE, names=["acme", "beta"], replica_urls=[REPLICA])
    project.manage("migrate_all", "--verbosity", "0")
    # migrations never target a replica: its file was not even created
    assert not list((tmp_path / "replicas").glob("*.sqlite3"))
    project.scenario(write, "acme", "beta")
    snapshot(project, "acme", "beta")
    return project


def test_sqlite_reads_go_to_the_tenants_replica_and_writes_pin_that_tenant_only(
    sqlite_project: TenantProject,
) -> None:
    out = sqlite_project.scenario(replicas, "acme", "beta")

    for name in ("acme", "beta"):  # a context that wrote nothing reads the tenant's replica
        assert out["fresh"][name] == {
            "db": f"tenant_{name}.replica",
            "titles": [f"{name}-row"],
            "serving_primary": False,
            "file": "replicas",
        }
    # read-your-writes: after its write in acme, this context reads acme's database ...
    for read in out["writer"]["acme"]:
        assert (read["db"], read["file"]) == ("tenant_acme", "tenants")
        assert read["titles"] == ["acme-new", "acme-row"]
    # ... and still beta's replica: a write in acme pins nothing of beta
    assert (out["writer"]["beta"]["db"], out["writer"]["beta"]["file"]) == (
        "tenant_beta.replica",
        "replicas",
    )
    assert out["writer"]["beta"]["titles"] == ["beta-row"]  # never a row of acme
    # another context reads acme's replica, which does not have the write
    assert out["after_write_fresh"]["db"] == "tenant_acme.replica"
    assert out["after_write_fresh"]["titles"] == ["acme-row"]
    assert out["use_primary"]["db"] == "tenant_acme"
    assert out["atomic"]["db"] == "tenant_acme"
    # a row read from the replica is saved to the tenant's database
    assert out["save"] == {"loaded_from": "tenant_acme.replica", "saved_to": "tenant_acme"}
    assert titles_in(sqlite_project, "tenants", "acme") == ["acme-new", "acme-saved"]
    assert titles_in(sqlite_project, "replicas", "acme") == ["acme-row"]  # never written
    assert titles_in(sqlite_project, "replicas", "beta") == ["beta-row"]
    assert out["replicas"] == {"acme": ["tenant_acme.replica"], "beta": ["tenant_beta.replica"]}
    assert out["configured"] == [
        "tenant_acme",
        "tenant_acme.replica",
        "tenant_beta",
        "tenant_beta.replica",
    ]


def test_sqlite_read_your_writes_follows_the_cookie_to_a_process_that_closed_the_tenant(
    sqlite_project: TenantProject,
) -> None:
    out = sqlite_project.scenario(pin_cookie, "acme")
    assert out["posted"]["database"] == "tenant_acme"
    assert out["cookie"] is not None
    assert out["cookie"].startswith("tenant_acme:")
    assert out["closed_aliases"] == []  # the next request opens acme and its replica again
    assert out["writer_titles"] == ["acme-row", "acme-web"]  # its cookie: acme's database
    assert out["stranger_titles"] == ["acme-row"]  # no cookie: acme's replica (the snapshot)


def test_sqlite_closing_a_tenant_past_max_open_removes_its_replicas(tmp_path: Path) -> None:
    project = TenantProject(
        tmp_path,
        TEMPLATE,
        names=["a1", "a2", "a3"],
        max_open=2,
        replica_urls=[REPLICA, "sqlite:///replicas2/{tenant}.sqlite3"],
    )
    project.manage("migrate_all", "--verbosity", "0")
    out = project.scenario(lru, "a1", "a2", "a3")
    assert out["open_after_each"] == [["a1"], ["a1", "a2"], ["a2", "a3"], ["a3", "a1"]]
    assert out["configured"] == [
        "tenant_a1",
        "tenant_a1.replica",
        "tenant_a1.replica2",
        "tenant_a3",
        "tenant_a3.replica",
        "tenant_a3.replica2",
    ]
    assert out["first_titles"] == ["a1-lru", "a1-lru"]  # pinned by its writes: the primary


def test_db_status_lists_each_tenants_replicas(sqlite_project: TenantProject) -> None:
    status = json.loads(sqlite_project.manage("db_status", "--json"))
    by_alias = {entry["alias"]: entry for entry in status}
    assert list(by_alias) == [
        "default",
        "tenant_acme",
        "tenant_acme.replica",
        "tenant_beta",
        "tenant_beta.replica",
    ]
    replica = by_alias["tenant_acme.replica"]
    assert (replica["role"], replica["apps"], replica["reachable"]) == (
        "replica of tenant_acme",
        ["notes"],
        True,
    )
    assert replica["name"].endswith("replicas/acme.sqlite3")
    assert replica["pending"] is None  # no migrations for a replica
    assert by_alias["tenant_acme"]["role"] == "tenant"


# PostgreSQL with the real streaming replica -------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.replica
def test_postgresql_tenant_replicas_on_the_streaming_replica(tmp_path: Path) -> None:
    suffix = secrets.token_hex(3)
    acme, beta = f"acme{suffix}", f"beta{suffix}"
    template = sibling_url(POSTGRES_URL, "_t_{tenant}")
    replica_template = sibling_url(REPLICA_URL, "_t_{tenant}")
    project = TenantProject(tmp_path, template, replica_urls=[replica_template])
    project.manage("migrate_all", "--verbosity", "0")
    start_replica()
    try:
        for name in (acme, beta):
            created = project.manage("create_tenant", name)
            # The second is a copy of the first (tenants.clone).
            done = r"\(created\), (migrated|copied from the migrated template), recorded"
            assert re.search(done, created)
            assert f"replica: {replica_template.replace('{tenant}', name)}" in created
        project.scenario(write, acme, beta)
        wait_for_replica()  # the tenant databases and their rows are on the standby now

        with replay_paused():
            out = project.scenario(replicas, acme, beta)
            cookie = project.scenario(pin_cookie, acme)
        _check_reads_while_replay_is_paused(out, acme, beta)
        assert cookie["cookie"].startswith(f"tenant_{acme}:")
        assert cookie["cookie"].split(":")[1].isdigit()  # the marker waits for a WAL position
        assert f"{acme}-web" in cookie["writer_titles"]
        assert f"{acme}-web" not in cookie["stranger_titles"]  # the paused standby

        wait_for_replica()
        caught_up = project.scenario(served, acme, beta)
        assert on_replica(caught_up[acme], acme)
        assert caught_up[acme]["standby"] is True
        assert caught_up[acme]["titles"] == [f"{acme}-new", f"{acme}-saved", f"{acme}-web"]
        assert caught_up[beta]["titles"] == [f"{beta}-row"]

        cut = project.scenario(cut_off, acme)
        assert on_replica(cut["before"], acme)
        assert cut["before"]["standby"] is True
        assert cut["after"]["db"] == f"tenant_{acme}.replica"
        assert cut["after"]["serving_primary"] is True  # run again on the tenant's database
        assert cut["after"]["titles"] == caught_up[acme]["titles"]
        assert cut["counters"]["rerun_on_primary"] == 1

        status = json.loads(project.manage("db_status", "--json"))
        replica = next(s for s in status if s["alias"] == f"tenant_{acme}.replica")
        assert (replica["role"], replica["reachable"], replica["port"]) == (
            f"replica of tenant_{acme}",
            True,
            "5433",
        )
        assert replica["lag_bytes"] is not None

        _check_failover(dataclasses.replace(project, replica_urls=[_dead(replica_template)]))
        _check_lag_bound(dataclasses.replace(project, replica_max_lag_bytes=1), acme, beta)
    finally:
        for name in (acme, beta):
            project.manage("drop_tenant", name, "--drop-database", "--noinput", check=False)
    databases = {template.replace("{tenant}", name).rpartition("/")[2] for name in (acme, beta)}
    assert not databases & server_databases(POSTGRES_URL)
    wait_for_replica()
    assert not databases & server_databases(REPLICA_URL)  # dropped there by replication


def _check_reads_while_replay_is_paused(out: dict[str, Any], acme: str, beta: str) -> None:
    for name in (acme, beta):  # a context that wrote nothing: the standby, port 5433
        read = out["fresh"][name]
        assert on_replica(read, name)
        assert (read["standby"], read["port"], read["titles"]) == (True, 5433, [f"{name}-row"])
    for read in out["writer"]["acme"]:  # read-your-writes: acme's primary, 5 reads out of 5
        assert (read["db"], read["standby"], read["port"]) == (f"tenant_{acme}", False, 5432)
        assert read["titles"] == [f"{acme}-new", f"{acme}-row"]
    beta_read = out["writer"]["beta"]  # the same context, another tenant: its standby
    assert on_replica(beta_read, beta)
    assert (beta_read["standby"], beta_read["titles"]) == (True, [f"{beta}-row"])
    stale = out["after_write_fresh"]  # another context: the paused standby, without the write
    assert on_replica(stale, acme)
    assert stale["titles"] == [f"{acme}-row"]
    assert (out["use_primary"]["db"], out["use_primary"]["standby"]) == (f"tenant_{acme}", False)
    assert (out["atomic"]["db"], out["atomic"]["standby"]) == (f"tenant_{acme}", False)
    assert out["save"] == {
        "loaded_from": f"tenant_{acme}.replica",
        "saved_to": f"tenant_{acme}",
    }


def _dead(template: str) -> str:
    """The same template on a port where nothing listens (connection refused)."""
    server = DatabaseConfig.from_url(template.replace("{tenant}", "x"))
    dead = template.replace(f"@{server.host}:{server.port}/", "@127.0.0.1:1/")
    assert dead != template
    return dead


def _check_failover(dead: TenantProject) -> None:
    """Replicas that cannot be reached: every read is still served, by the tenant's primary."""
    acme, beta = _tenants(dead)
    out = dead.scenario(served, acme, beta)
    for name in (acme, beta):
        read = out[name]
        assert read["db"] == f"tenant_{name}.replica"
        assert read["serving_primary"] is True  # the replica's connection went to the primary
        assert (read["standby"], read["port"]) == (False, 5432)
        assert f"{name}-row" in read["titles"] or f"{name}-saved" in read["titles"]
    assert out["counters"]["served_by_primary"] >= 2


def _check_lag_bound(bounded: TenantProject, acme: str, beta: str) -> None:
    """replica_max_lag_bytes=1: the standby serves while it is caught up, the tenant's primary
    while replay is paused behind a write."""
    # caught up (other sessions write to this server too: a few tries)
    tries = [bounded.scenario(served, acme) for _ in range(5)]
    assert any(on_replica(out[acme], acme) and out[acme]["standby"] for out in tries), tries
    with replay_paused():
        bounded.scenario(write, acme)  # WAL the standby does not replay
        out = bounded.scenario(served, acme, beta)
    for name in (acme, beta):
        assert (out[name]["standby"], out[name]["port"]) == (False, 5432)
        assert out[name]["serving_primary"] is False  # skipped for lag, not failed over
        assert out[name]["db"] == f"tenant_{name}"
    assert out[acme]["titles"].count(f"{acme}-row") == 1  # the write the standby lacks
    assert out["counters"]["skip:lag"] >= 2


def _tenants(project: TenantProject) -> list[str]:
    listed = project.sqlite_rows("default.sqlite3", "SELECT name FROM django_cfg_tenant")
    return sorted(name for (name,) in listed)


# Scenarios, run in a process of the tenant project (TenantProject.scenario)


def notes_as_read(name: str) -> dict[str, Any]:
    """Every note of tenant ``name`` as this context reads them, and who served the read: the
    alias (``_state.db``) and, asked on that very connection, its server (PostgreSQL: whether
    it is a standby, its port) or file (SQLite)."""
    from tests.tenants.project.notes.models import Note

    with use_tenant(name):
        rows = list(Note.objects.all())
    db = rows[0]._state.db if rows else None
    out: dict[str, Any] = {"db": db, "titles": sorted(row.title for row in rows)}
    if db is not None:
        connection = connections[db]
        out["serving_primary"] = bool(getattr(connection, "serving_primary", False))
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_is_in_recovery(), inet_server_port()")
                out["standby"], out["port"] = cursor.fetchone()
        else:
            out["file"] = Path(connection.settings_dict["NAME"]).parent.name
    return out


def fresh(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` in a context that has written nothing (no read-your-writes pin)."""
    return contextvars.Context().run(function, *args)


def replicas(names: list[str]) -> dict[str, Any]:
    """Reads of tenants with replicas: who serves a context that wrote nothing, one that wrote
    (read-your-writes per tenant), use_primary, a replica row saved; the aliases open."""
    from tests.tenants.project.notes.models import Note

    acme, beta = names[:2]
    out: dict[str, Any] = {"fresh": {name: fresh(notes_as_read, name) for name in names}}

    def writer() -> dict[str, Any]:
        with use_tenant(acme):
            Note.objects.create(title=f"{acme}-new")
        return {
            "acme": [notes_as_read(acme) for _ in range(5)],  # pinned to acme's database
            "beta": notes_as_read(beta),  # acme's write pins nothing of beta
        }

    out["writer"] = fresh(writer)
    out["after_write_fresh"] = fresh(notes_as_read, acme)

    def primary_forced() -> dict[str, Any]:
        with use_primary():
            return notes_as_read(acme)

    out["use_primary"] = fresh(primary_forced)

    def in_atomic() -> dict[str, Any]:
        with transaction.atomic(using=f"tenant_{acme}"):
            return notes_as_read(acme)

    out["atomic"] = fresh(in_atomic)

    def save_a_replica_row() -> dict[str, Any]:
        with use_tenant(acme):
            note = Note.objects.get(title=f"{acme}-row")
            loaded_from = note._state.db
            note.title = f"{acme}-saved"
            note.save()
        return {"loaded_from": loaded_from, "saved_to": note._state.db}

    out["save"] = fresh(save_a_replica_row)
    registry = current_registry()
    assert registry is not None
    out["replicas"] = {name: list(aliases) for name, aliases in registry.replicas.items()}
    out["configured"] = sorted(a for a in connections.settings if a.startswith("tenant_"))
    monitor = current_runtime().monitor
    out["counters"] = dict(monitor.counters) if monitor is not None else {}
    return out


def served(names: list[str]) -> dict[str, Any]:
    """Each tenant's notes as a context that wrote nothing reads them (``notes_as_read``)."""
    out = {name: fresh(notes_as_read, name) for name in names}
    monitor = current_runtime().monitor
    out["counters"] = dict(monitor.counters) if monitor is not None else {}
    return out


def cut_off(names: list[str]) -> dict[str, Any]:
    """A read whose tenant replica connection is ended by the server (PostgreSQL): run again,
    and answered, on the tenant's database."""
    import psycopg

    from tests.tenants.project.notes.models import Note

    (name,) = names
    before = notes_as_read(name)
    replica = connections[before["db"]]
    settings = replica.settings_dict
    with psycopg.connect(
        host=settings["HOST"], port=settings["PORT"], user=settings["USER"], dbname="postgres"
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [replica.connection.info.backend_pid])
    with use_tenant(name):
        rows = list(Note.objects.all())
    monitor = current_runtime().monitor
    assert monitor is not None
    return {
        "before": before,
        "after": {
            "db": rows[0]._state.db,
            "titles": sorted(row.title for row in rows),
            "serving_primary": replica.serving_primary,
        },
        "counters": dict(monitor.counters),
    }


def pin_cookie(names: list[str]) -> dict[str, Any]:
    """Read-your-writes across requests: a POST in tenant acme, then GETs with and without its
    cookie, after this process closed acme (the cookie names a database not open yet)."""
    acme = names[0]
    writer, stranger = Client(), Client()
    headers = {"x-tenant": acme}
    posted = writer.post("/notes/add/", {"title": f"{acme}-web"}, headers=headers).json()
    registry = current_registry()
    assert registry is not None
    registry.close(acme)
    closed = [a for a in connections.settings if a.startswith(f"tenant_{acme}")]
    return {
        "posted": posted,
        "cookie": writer.cookies["django_cfg_pins"].value
        if "django_cfg_pins" in writer.cookies
        else None,
        "closed_aliases": closed,
        "writer_titles": writer.get("/notes/", headers=headers).json()["titles"],
        "stranger_titles": stranger.get("/notes/", headers=headers).json()["titles"],
    }
