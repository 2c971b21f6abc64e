"""Scenarios tests/tenants runs inside the tenant project; each prints one JSON object."""

from __future__ import annotations

import asyncio
import contextvars
import datetime
import functools
import hashlib
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connections, transaction
from django.test import AsyncClient, Client

from django_cfg import NoTenantError, UnknownTenantError, current_tenant, use_primary, use_tenant
from django_cfg.routing.read_only import ReadOnlyDatabaseError
from django_cfg.runtime.runtime import current_runtime
from django_cfg.settings.tenants import tenant_alias
from django_cfg.tenants.registry import current_registry
from tests.tenants.project.notes.models import Note, Tag


def routing(names: list[str]) -> dict[str, Any]:
    """Rows per tenant, a user in default, the relation across, on_delete across."""
    acme, beta = names
    out: dict[str, Any] = {}
    user = User.objects.create(username="ann")
    with use_tenant(acme):
        tag = Tag.objects.create(name="t")
        note = Note.objects.create(title=f"{acme}-1", author=user, tag=tag)
        out["acme_note_db"] = note._state.db
        out["acme_author"] = Note.objects.get(pk=note.pk).author.username
        out["acme_user_notes"] = sorted(user.notes.values_list("title", flat=True))
    with use_tenant(beta):
        Note.objects.create(title=f"{beta}-1", author=user)
        out["beta_titles"] = sorted(Note.objects.values_list("title", flat=True))

    @use_tenant(acme)
    def acme_titles() -> list[str]:
        return sorted(Note.objects.values_list("title", flat=True))

    out["decorated"] = acme_titles()
    out["user_db"] = user._state.db
    try:
        Note.objects.count()
    except NoTenantError as error:
        out["no_tenant"] = str(error)
    try:
        with use_tenant("nosuch"):
            Note.objects.count()
    except UnknownTenantError as error:
        out["unknown"] = str(error)
    try:
        use_tenant("../etc")
    except ValueError as error:
        out["invalid"] = str(error)
    try:
        with use_tenant(acme):
            Note.objects.create(title="x", tag=Tag.objects.using("tenant_" + beta).create())
    except ValueError as error:
        out["across_tenants"] = str(error)
    with use_tenant(acme):
        user.delete()  # CASCADE onto every tenant's notes (docs/tenants.md)
        out["acme_after_delete"] = sorted(Note.objects.values_list("title", flat=True))
    with use_tenant(beta):
        out["beta_after_delete"] = sorted(Note.objects.values_list("title", flat=True))
    return out


def concurrency(names: list[str]) -> dict[str, Any]:
    """Many asyncio tasks, each for one of the tenants, writing and reading interleaved."""

    async def task(name: str, i: int) -> list[str]:
        async with use_tenant(name):
            await Note.objects.acreate(title=f"{name}-{i}")
            await asyncio.sleep(0)
            seen = [t async for t in Note.objects.values_list("title", flat=True)]
            assert current_tenant() == name
            return [t for t in seen if not t.startswith(f"{name}-")]

    async def main() -> list[list[str]]:
        return await asyncio.gather(*(task(names[i % len(names)], i) for i in range(200)))

    leaks = [leak for found in asyncio.run(main()) for leak in found]
    counts = {}
    for name in names:
        with use_tenant(name):
            counts[name] = Note.objects.count()
    return {"leaks": leaks, "counts": counts}


def requests(names: list[str]) -> dict[str, Any]:
    """The middleware: a tenant per request (sync and concurrent async); 404 when unknown."""
    for name in names:
        with use_tenant(name):
            Note.objects.create(title=f"{name}-page")
    client = Client()
    out: dict[str, Any] = {
        "sync": {n: client.get("/notes/", headers={"x-tenant": n}).json() for n in names},
        "unknown_status": client.get("/notes/", headers={"x-tenant": "nosuch"}).status_code,
        "invalid_status": client.get("/notes/", headers={"x-tenant": "a/b"}).status_code,
    }
    out["no_tenant_status"] = client.get("/notes/").status_code  # a 404, not a 500

    async def many() -> list[dict[str, Any]]:
        aclient = AsyncClient()
        responses = await asyncio.gather(
            *(
                aclient.get("/async-notes/", headers={"x-tenant": names[i % len(names)]})
                for i in range(60)
            )
        )
        return [r.json() for r in responses]

    out["async"] = asyncio.run(many())
    return out


def lru(names: list[str]) -> dict[str, Any]:
    """max_open: the least recently used tenants' databases are removed, reopened on use."""
    registry = current_registry()
    assert registry is not None
    seen = []
    for name in [*names, names[0]]:
        with use_tenant(name):
            Note.objects.create(title=f"{name}-lru")
        seen.append(list(registry.open))
    with use_tenant(names[0]):
        titles = sorted(Note.objects.values_list("title", flat=True))
    return {
        "open_after_each": seen,
        "configured": sorted(a for a in connections.settings if a.startswith("tenant_")),
        "first_titles": titles,
    }


def in_use(names: list[str]) -> dict[str, Any]:
    """max_open: a tenant one thread has selected (and queried) is not closed while another
    thread opens more tenants; it is closed once no context uses it."""
    import threading

    registry = current_registry()
    assert registry is not None
    held, others = names[0], names[1:]
    queried, opened = threading.Event(), threading.Event()
    out: dict[str, Any] = {}

    def worker() -> None:
        with use_tenant(held):
            Note.objects.create(title=f"{held}-in-use")
            queried.set()
            opened.wait(30)
            out["configured_meanwhile"] = tenant_alias(held) in connections.settings
            out["titles_after"] = sorted(Note.objects.values_list("title", flat=True))
        connections.close_all()

    thread = threading.Thread(target=worker)
    thread.start()
    queried.wait(30)
    for name in others:
        with use_tenant(name):
            Note.objects.create(title=f"{name}-in-use")
    out["open_meanwhile"] = list(registry.open)
    opened.set()
    thread.join(30)
    with use_tenant(others[0]):  # another open: now the least recently used one closes
        Note.objects.count()
    out["open_after"] = list(registry.open)
    return out


def write(names: list[str]) -> dict[str, Any]:
    """One note per tenant, titled after the tenant."""
    for name in names:
        with use_tenant(name):
            Note.objects.create(title=f"{name}-row")
    return {}


def authored(names: list[str]) -> dict[str, Any]:
    """User ann in default, one note of hers per tenant (titled after it) and one by nobody."""
    ann = User.objects.create(username="ann")
    for name in names:
        with use_tenant(name):
            Note.objects.create(title=f"{name}-ann", author=ann)
            Note.objects.create(title=f"{name}-nobody")
    return {"ann": ann.pk}


def late(names: list[str]) -> dict[str, Any]:
    """A tenant created by another process after this one looked for it."""
    import os
    import subprocess
    import sys

    (name,) = names
    out: dict[str, Any] = {}
    try:
        with use_tenant(name):
            Note.objects.count()
    except UnknownTenantError as error:
        out["before"] = str(error)
    subprocess.run(
        [sys.executable, "-m", "tests.tenants.project.run", "manage", "create_tenant", name],
        check=True,
        env=os.environ,
        capture_output=True,
    )
    with use_tenant(name):
        Note.objects.create(title=f"{name}-late")
        out["after"] = sorted(Note.objects.values_list("title", flat=True))
    return out


def recycled(names: list[str]) -> dict[str, Any]:
    """A tenant dropped (database too) and created again by another process while this one
    had it open: this process must reopen the new database, not write to the dropped one."""
    import os
    import subprocess
    import sys

    from django_cfg.tenants.registry import current_registry

    (name,) = names
    with use_tenant(name):
        Note.objects.create(title=f"{name}-old")
    for command in (["drop_tenant", name, "--drop-database", "--noinput"], ["create_tenant", name]):
        subprocess.run(
            [sys.executable, "-m", "tests.tenants.project.run", "manage", *command],
            check=True,
            env=os.environ,
            capture_output=True,
        )
    registry = current_registry()
    assert registry is not None
    registry.refresh(name)  # as the next use after recheck_seconds would
    with use_tenant(name):
        before = sorted(Note.objects.values_list("title", flat=True))
        Note.objects.create(title=f"{name}-new")
    return {"before": before}


def _outcome(get: Callable[[], Any]) -> Any:
    try:
        return get()
    except Exception as error:
        return f"{type(error).__name__}: {error}"


def celery(names: list[str]) -> dict[str, Any]:
    """Tasks queued in each tenant, in none, with an unknown tenant's header and with the
    signals disconnected, run by a real worker (its own thread: a fresh context)."""
    from celery.contrib.testing.worker import start_worker

    from django_cfg.tenants import celery as tenant_celery
    from tests.tenants.project.celery_app import add_note, app

    out: dict[str, Any] = {}
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        results = {}
        for name in names:
            with use_tenant(name):
                results[name] = add_note.delay(f"{name}-celery")
        results["none"] = add_note.delay("none-celery")
        results["unknown"] = add_note.apply_async(
            ("nosuch-celery",), headers={tenant_celery.HEADER: "nosuch"}
        )
        for key, result in results.items():
            out[key] = _outcome(lambda result=result: result.get(timeout=30))
        tenant_celery.disconnect()
        try:
            with use_tenant(names[0]):
                unsent = add_note.delay(f"{names[0]}-unsent")
            out["disconnected"] = _outcome(lambda: unsent.get(timeout=30))
        finally:
            tenant_celery.connect()
    return out


def celery_eager(names: list[str]) -> dict[str, Any]:
    """Tasks run eagerly (``apply()``, as ``task_always_eager`` does) inside ``names[0]``: in the
    caller's tenant, or in the tenant of a header given with them."""
    from django_cfg.tenants import celery as tenant_celery
    from tests.tenants.project.celery_app import add_note

    first, second = names
    out: dict[str, Any] = {}
    with use_tenant(first):
        out["caller"] = _outcome(lambda: add_note.apply((f"{first}-eager",)).get())
        header = {tenant_celery.HEADER: second}
        out["header"] = _outcome(lambda: add_note.apply((f"{second}-eager",), headers=header).get())
        out["after"] = current_tenant()
    return out


def django_tasks(names: list[str]) -> dict[str, Any]:
    """Django's tasks framework: the immediate backend, and the deferred (dummy) backend's
    stored tasks run by a worker thread after a JSON round trip of their arguments."""
    import pickle
    import threading

    from django.tasks import task_backends

    from tests.tenants.project.notes.tasks import add_note

    out: dict[str, Any] = {"immediate": {}, "deferred": {}}
    for name in [*names, None]:
        with use_tenant(name):
            result = add_note.enqueue(f"{name}-immediate")
        out["immediate"][str(name)] = {
            "status": str(result.status),
            "return": result.return_value if result.status == "SUCCESSFUL" else None,
            "errors": [e.exception_class_path for e in result.errors],
            "kwargs": result.kwargs,
        }
    with use_tenant(names[0]):
        out["tenant_argument"] = _outcome(lambda: add_note.enqueue("x", django_cfg_tenant="beta"))
    deferred = add_note.using(backend="deferred")
    for name in names:
        with use_tenant(name):
            deferred.enqueue(f"{name}-deferred")
    stored = [
        (pickle.dumps(r.task), json.dumps([r.args, r.kwargs]))
        for r in task_backends["deferred"].results
    ]
    unknown = [["nosuch-deferred"], {"django_cfg_tenant": "nosuch"}]
    stored.append((pickle.dumps(add_note), json.dumps(unknown)))

    def worker() -> None:  # a worker: a thread of its own, the task as a backend stores it
        for task_bytes, arguments in stored:
            task = pickle.loads(task_bytes)
            args, kwargs = json.loads(arguments)
            run = functools.partial(task.call, *args, **kwargs)
            out["deferred"][args[0]] = _outcome(run)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    return out


def notes_as_read(name: str) -> dict[str, Any]:
    """Every note of tenant ``name`` as this context reads them, and who served the read: the
    alias (``_state.db``) and, asked on that very connection, its server (PostgreSQL: whether
    it is a standby, its port) or file (SQLite)."""
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


def seed(args: list[str]) -> dict[str, Any]:
    """Tags and notes in tenant NAME, with a gap in the notes' keys (the third is deleted), and
    a delete intent (a datetime)."""
    (name,) = args
    with use_tenant(name):
        tags = [Tag.objects.create(name=f"tag{i}") for i in range(2)]
        notes = [
            Note.objects.create(title=f"{name}-{i}", tag=tags[i % 2] if i < 3 else None)
            for i in range(5)
        ]
        notes[2].delete()
        rows = list(Note.objects.order_by("pk").values_list("pk", "title", "tag_id"))
    from django_cfg.models import DeleteIntent

    DeleteIntent.objects.using(tenant_alias(name)).create(  # a datetime with microseconds
        token="seeded",
        database=tenant_alias(name),
        model="notes.Note",
        pks="[]",
        created=datetime.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=datetime.UTC),
    )
    return {"notes": rows}


def _wait(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear")
        time.sleep(0.02)


def _where(name: str) -> dict[str, Any]:
    """Where this process has tenant ``name``'s database now (the password as a digest)."""
    settings_dict = connections[tenant_alias(name)].settings_dict
    password = str(settings_dict.get("PASSWORD") or "")
    return {
        "name": str(settings_dict["NAME"]),
        "host": settings_dict.get("HOST") or "",
        "password_sha256": hashlib.sha256(password.encode()).hexdigest() if password else "",
    }


def _try_write(name: str, title: str) -> str:
    try:
        with use_tenant(name):
            Note.objects.create(title=title)
    except ReadOnlyDatabaseError as error:
        return f"{type(error).__name__}: {error}"
    return "written"


def _titles(name: str) -> list[str]:
    with use_tenant(name):
        return sorted(Note.objects.values_list("title", flat=True))


def try_write(args: list[str]) -> dict[str, Any]:
    """A write in a process started now: written, or the refusal; where the tenant is."""
    name, title = args
    written = _try_write(name, title)
    return {"write": written, "titles": _titles(name), **_where(name)}


def follower(args: list[str]) -> dict[str, Any]:
    """A process that opened the tenant before a move: a write while the move holds (FOLDER/held
    .. FOLDER/wrote), then, after FOLDER/moved and recheck_seconds, a write and read."""
    name, folder_text = args
    folder = Path(folder_text)
    registry = current_registry()
    assert registry is not None
    out: dict[str, Any] = {"before": _try_write(name, "follower-before"), **_where(name)}
    (folder / "opened").touch()
    _wait(folder / "held")
    out["during"] = _try_write(name, "follower-during")
    out["during_titles"] = _titles(name)
    out["during_where"] = _where(name)
    (folder / "wrote").touch()
    _wait(folder / "moved")
    time.sleep(registry.recheck_seconds + 0.1)
    out["after"] = _try_write(name, "follower-after")
    out["after_titles"] = _titles(name)
    out["after_where"] = _where(name)
    return out


def dropped(args: list[str]) -> dict[str, Any]:
    """A tenant this process has open, dropped by another process: seen after recheck_seconds."""
    import os
    import subprocess
    import sys

    (name,) = args
    registry = current_registry()
    assert registry is not None
    out: dict[str, Any] = {"before": _try_write(name, "before-drop")}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.tenants.project.run",
            "manage",
            "drop_tenant",
            name,
            "--noinput",
        ],
        check=True,
        env=os.environ,
        capture_output=True,
    )
    time.sleep(registry.recheck_seconds + 0.1)
    try:
        with use_tenant(name):
            Note.objects.count()
    except UnknownTenantError as error:
        out["after"] = str(error)
    out["open"] = list(registry.open)
    return out


def atomic_across_mark(args: list[str]) -> dict[str, Any]:
    """A transaction on the tenant open while its row is marked as being moved (by SQL on
    default.sqlite3 here): it is not broken; the tenant is reopened read-only after it."""
    import sqlite3
    from contextlib import closing

    from django.conf import settings
    from django.db import transaction

    (name,) = args
    registry = current_registry()
    assert registry is not None
    alias = registry.alias_for(name)
    with use_tenant(name), transaction.atomic(using=alias):
        Note.objects.create(title="in-transaction-1")
        with closing(sqlite3.connect(settings.DATABASES["default"]["NAME"])) as connection:
            connection.execute("UPDATE django_cfg_tenant SET state = 'moving', version = 99")
            connection.commit()
        time.sleep(registry.recheck_seconds + 0.1)
        Note.objects.create(title="in-transaction-2")  # due, but not under the transaction
    return {"after": _try_write(name, "after-transaction"), "titles": _titles(name)}


def held_move(args: list[str]) -> dict[str, Any]:
    """``move_tenant NAME --url URL`` held at POINT ("copy": before the copy, "verify": after
    it) until FOLDER/release exists; FOLDER/held says it is there."""
    from django_cfg.management.commands import move_tenant

    name, url, folder_text, point = args
    folder = Path(folder_text)
    copy_rows = move_tenant.copy_rows

    def hold() -> None:
        (folder / "held").touch()
        _wait(folder / "release")

    def held_copy(*a: Any, **kw: Any) -> Any:
        if point == "copy":
            hold()
        copied = copy_rows(*a, **kw)
        if point == "verify":
            hold()
        return copied

    move_tenant.copy_rows = held_copy  # type: ignore[assignment]
    stdout = io.StringIO()
    try:
        call_command("move_tenant", name, url=url, interactive=False, stdout=stdout)
    except CommandError as error:
        return {"ok": False, "error": str(error), "out": stdout.getvalue()}
    return {"ok": True, "out": stdout.getvalue()}


def migrate_bounded(names: list[str]) -> dict[str, Any]:
    """migrate_all --parallel N (``names[0]``) with max_open: how many tenant databases were
    open at most, measured each time the registry opens one."""
    import io

    from django.core.management import call_command

    registry = current_registry()
    assert registry is not None
    peak = 0
    bound = registry._bound

    def watched() -> None:
        nonlocal peak
        peak = max(peak, len(registry.open))
        bound()

    registry._bound = watched  # type: ignore[method-assign]
    out = io.StringIO()
    call_command("migrate_all", parallel=int(names[0]), stdout=out, verbosity=1)
    configured = sorted(a for a in connections.settings if a.startswith("tenant_"))
    return {"peak": peak, "open_after": list(registry.open), "configured": configured,
            "out": out.getvalue()}  # fmt: skip


def writers(args: list[str]) -> dict[str, Any]:
    """THREADS threads that never see a request boundary (no request signals, no
    close_removed_connections), each inside use_tenant(NAME) throughout: every round inserts a
    note and renames the oldest note it inserted and has not renamed yet (an UPDATE). A write
    is acknowledged when its statement returned without error (the rename: 1 row). After
    FOLDER/stop, each thread goes on until it has AFTER acknowledged writes more (at most 1,000
    rounds more, 50,000 in all). FOLDER/writing: every thread has run its first round."""
    import threading

    from django.db import DatabaseError

    name, folder_text, threads_text, after_text = args
    folder, after = Path(folder_text), int(after_text)
    started = threading.Barrier(int(threads_text) + 1)

    def worker(number: int) -> dict[str, Any]:
        out: dict[str, Any] = {"inserted": [], "renamed": [], "refused": {}, "after_stop": 0}
        pending: list[tuple[int, str]] = []
        stop_seen, rounds_after = False, 0
        with use_tenant(name):
            for round_ in range(50_000):
                if not stop_seen and (folder / "stop").exists():
                    stop_seen = True
                acknowledged = 0
                try:
                    title = f"w{number}-{round_}"
                    pending.append((Note.objects.create(title=title).pk, title))
                    out["inserted"].append(title)
                    acknowledged += 1
                    if pending:
                        pk, old = pending[0]
                        if Note.objects.filter(pk=pk, title=old).update(title=f"{old}-renamed"):
                            out["renamed"].append(old)
                            acknowledged += 1
                        pending.pop(0)  # renamed, or gone (a lost insert: the test finds it)
                except Exception as error:  # refused: not acknowledged
                    kind = type(error).__name__
                    if not isinstance(error, DatabaseError):
                        kind = f"unexpected {kind}: {error}"
                    out["refused"][kind] = out["refused"].get(kind, 0) + 1
                    time.sleep(0.005)
                if round_ == 0:
                    started.wait(60)
                if stop_seen:
                    out["after_stop"] += acknowledged
                    rounds_after += 1
                    if out["after_stop"] >= after or rounds_after >= 1000:
                        break
        return out

    results: list[dict[str, Any]] = [{} for _ in range(int(threads_text))]

    def run_worker(number: int) -> None:
        results[number] = worker(number)

    threads = [threading.Thread(target=run_worker, args=(n,)) for n in range(len(results))]
    for thread in threads:
        thread.start()
    started.wait(60)
    (folder / "writing").touch()
    for thread in threads:
        thread.join(600)
    return {"threads": results}


def held_backends(args: list[str]) -> dict[str, Any]:
    """THREADS threads with no request boundary each query every tenant of NAMES once (max_open
    closes the least recently used); then each makes one more query of the last tenant. The
    PostgreSQL backends on databases named PREFIX* after each phase, counted from another
    connection (to the server's ``postgres`` database)."""
    import threading

    import psycopg

    prefix, threads_text, *names = args
    registry = current_registry()
    assert registry is not None
    server = registry.database(names[0])  # the tenants' server

    def backends() -> int:
        with psycopg.connect(
            host=server.host, port=server.port, user=server.user, dbname="postgres"
        ) as connection:
            row = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE %s",
                (prefix + "%",),
            ).fetchone()
            assert row is not None
            return int(row[0])

    count = int(threads_text)
    phase_one, counted = threading.Barrier(count + 1), threading.Event()
    phase_two = threading.Barrier(count + 1)

    def worker() -> None:
        for name in names:
            with use_tenant(name):
                Note.objects.count()
        phase_one.wait(60)
        counted.wait(60)
        with use_tenant(names[-1]):
            Note.objects.count()
        phase_two.wait(60)

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    phase_one.wait(60)
    out: dict[str, Any] = {"after_all_tenants": backends(), "open": list(registry.open)}
    counted.set()
    phase_two.wait(60)
    out["after_one_more_query"] = backends()
    out["open_after"] = list(registry.open)
    for thread in threads:
        thread.join(60)
    return out


def hosts(hosts: list[str]) -> dict[str, Any]:
    """GET /notes/ with each Host header through the test client (sync), and the async view
    through the middleware in async mode (Django's AsyncClient always adds its own host): the
    tenant each request ran as, or its status code."""
    from django.http import Http404
    from django.test import AsyncRequestFactory

    from django_cfg.tenants.middleware import TenantMiddleware
    from tests.tenants.project.urls import notes_async

    client = Client()

    def shown(response: Any) -> Any:
        ok = response.status_code == 200
        return json.loads(response.content)["tenant"] if ok else response.status_code

    async def async_hosts() -> list[Any]:
        middleware = TenantMiddleware(notes_async)
        shown_: list[Any] = []
        for host in hosts:
            request = AsyncRequestFactory().get("/async-notes/")
            request.META["HTTP_HOST"] = host
            try:
                try:
                    shown_.append(shown(await middleware(request)))
                except NoTenantError as error:  # as Django's handler would pass it on
                    middleware.process_exception(request, error)
            except Http404:
                shown_.append(404)
        return shown_

    first = dict(zip(hosts, asyncio.run(async_hosts()), strict=True))  # reads the domains
    return {
        "sync": {host: shown(client.get("/notes/", headers={"host": host})) for host in hosts},
        "async": first,
    }


SCENARIOS: dict[str, Callable[[list[str]], dict[str, Any]]] = {
    "hosts": hosts,
    "replicas": replicas,
    "served": served,
    "pin_cookie": pin_cookie,
    "cut_off": cut_off,
    "migrate_bounded": migrate_bounded,
    "routing": routing,
    "concurrency": concurrency,
    "requests": requests,
    "lru": lru,
    "in_use": in_use,
    "write": write,
    "authored": authored,
    "late": late,
    "recycled": recycled,
    "celery": celery,
    "celery_eager": celery_eager,
    "django_tasks": django_tasks,
    "seed": seed,
    "try_write": try_write,
    "follower": follower,
    "held_move": held_move,
    "dropped": dropped,
    "atomic_across_mark": atomic_across_mark,
    "writers": writers,
    "held_backends": held_backends,
}


def run(scenario: str, names: list[str]) -> None:
    print(json.dumps(SCENARIOS[scenario](names)))
