"""Scenarios of tests/tenants/test_shared_services.py and test_worker.py, run in the tenant
project (``python -m tests.tenants.project.run MODULE:FUNCTION ARGS``); each returns what it saw."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.files.base import ContentFile
from django.db import connections, transaction
from django.test import override_settings

from django_cfg import current_tenant, use_tenant
from tests.tenants.project.notes.models import Note

KEY_FUNCTION = {"KEY_FUNCTION": "django_cfg.tenants.cache_key"}


def _stats_cache(cache: Any, names: list[str]) -> dict[str, Any]:
    """``stats`` set in each tenant and with none, read back everywhere."""
    for name in [*names, None]:
        with use_tenant(name):
            cache.set("stats", f"{name}-stats")
    seen = {}
    for name in [*names, None]:
        with use_tenant(name):
            seen[str(name)] = cache.get("stats")
    with use_tenant(names[0]):
        cache.delete("stats")
    with use_tenant(names[1]):
        seen["other after delete"] = cache.get("stats")
    return seen


def cache(names: list[str]) -> dict[str, Any]:
    """The tenant key function on a local-memory cache, Redis (db 7) and the database cache."""
    from django.core.cache.backends.redis import RedisCache

    from django_cfg.tenants.cache import cache_key

    out: dict[str, Any] = {"locmem": _stats_cache(LocMemCache("tenant-keys", KEY_FUNCTION), names)}
    redis = RedisCache(
        "redis://127.0.0.1:6379/7", {**KEY_FUNCTION, "KEY_PREFIX": f"svc{time.time_ns()}"}
    )
    out["redis"] = _stats_cache(redis, names)
    redis.clear()
    plain = LocMemCache("plain", {})
    with use_tenant(names[0]):
        plain.set("stats", "written without the key function")
    with use_tenant(names[1]):
        out["without key function"] = plain.get("stats")
    from django.core.management.commands.createcachetable import Command as CreateCacheTable

    create = CreateCacheTable()
    create.verbosity = 0
    create.create_table("default", "tenant_cache", dry_run=False)
    database = DatabaseCache("tenant_cache", KEY_FUNCTION)
    out["database"] = _stats_cache(database, names)
    with use_tenant(names[0]):
        database.set("where", 1)
    out["database keys"] = sorted(
        row[0]
        for row in connections["default"].cursor().execute("SELECT cache_key FROM tenant_cache")
    )
    out["keys"] = {}
    for name in [*names, None]:
        with use_tenant(name):
            out["keys"][str(name)] = cache_key("stats", "app", 2)
    return out


def sessions(names: list[str]) -> dict[str, Any]:
    """A database session saved in a tenant's request: where its row is."""
    from django.contrib.sessions.backends.db import SessionStore
    from django.test import Client

    out: dict[str, Any] = {}
    with use_tenant(names[0]):
        session = SessionStore()
        session["cart"] = [1, 2]
        session.save()
        out["db"] = session.model.objects.filter(pk=session.session_key).get()._state.db
    out["read with no tenant"] = SessionStore(session_key=session.session_key).get("cart")
    response = Client().get("/notes/", headers={"X-Tenant": names[1]})
    out["request"] = response.status_code
    return out


def storage(names: list[str]) -> dict[str, Any]:
    """Files saved through the tenant storage in each tenant and with none."""
    from django_cfg.tenants.storage import TenantFileSystemStorage

    with override_settings(MEDIA_ROOT=str(settings.BASE_DIR / "media"), MEDIA_URL="/media/"):
        return _saved_files(TenantFileSystemStorage(), names)


def _saved_files(files: Any, names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in [*names, None]:
        with use_tenant(name):
            saved = files.save("report.txt", ContentFile(f"{name}'s report".encode()))
            out[str(name)] = {
                "name": saved,
                "path": files.path(saved),
                "url": files.url(saved),
                "read": files.open(saved).read().decode(),
            }
    with use_tenant(names[1]):
        out["other has first's name"] = files.exists(f"{names[0]}/report.txt")
        try:
            files.open(f"../{names[0]}/report.txt")
            out["traversal"] = "opened"
        except Exception as error:
            out["traversal"] = type(error).__name__
    return out


def log_lines(names: list[str]) -> dict[str, Any]:
    """SQL log lines and an app's log line through a handler with ``TenantFilter``."""
    from django_cfg.tenants.logging import TenantFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(TenantFilter())
    handler.setFormatter(logging.Formatter("[tenant=%(tenant)s] %(name)s %(message)s"))
    sql = logging.getLogger("django.db.backends")
    app = logging.getLogger("notes.views")
    for logger in (sql, app):
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        for name in names:
            with use_tenant(name):
                connections[f"tenant_{name}"].force_debug_cursor = True
                Note.objects.filter(title="x").count()
                app.info("listing notes")
        app.info("no tenant here")
        with use_tenant(names[0]):
            Note.objects.using(f"tenant_{names[1]}").filter(title="y").count()
    finally:
        for logger in (sql, app):
            logger.removeHandler(handler)
    return {"lines": stream.getvalue().splitlines()}


def on_commit(names: list[str]) -> dict[str, Any]:
    """Callbacks registered inside a tenant's block, run when the outer transaction commits
    after the block ended."""
    ran: dict[str, Any] = {}

    def record(label: str) -> Callable[[], None]:
        def callback() -> None:
            titles = sorted(Note.objects.values_list("title", flat=True))
            ran[label] = {"tenant": current_tenant(), "titles": titles}

        return callback

    with transaction.atomic():  # default's transaction: commits after the blocks below
        with use_tenant(names[0]):
            Note.objects.create(title=f"{names[0]}-committed")
            transaction.on_commit(record("first"))
        with use_tenant(names[1]):
            transaction.on_commit(record("second"))
        transaction.on_commit(lambda: ran.setdefault("none", current_tenant()))
        with use_tenant(names[1]):
            pass
    with use_tenant(names[1]), transaction.atomic(), use_tenant(names[0]):
        transaction.on_commit(record("first, commit inside second"))
    return ran
