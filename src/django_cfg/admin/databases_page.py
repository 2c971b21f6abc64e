"""The admin's "Databases" page: each alias with its role, what this process knows of its
reachability (the breakers), lag, the routing counters and the tenants open in this process.

It is in the admin index as "Django_Cfg > Databases" (/admin/django_cfg/database/), staff with
the ``django_cfg.view_database`` permission (superusers) see it; ``DjangoCfgConfig.ready()``
registers it on ``admin.site`` when ``django.contrib.admin`` is installed. Another admin site:

    from django_cfg.admin.databases_page import register_databases_page
    register_databases_page(my_site)

Rendering never connects to a server: it shows what the runtime's replica monitor last saw
(``manage.py db_status`` asks the servers themselves).
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib import admin
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from django_cfg.runtime.runtime import DatabaseRuntime, current_runtime
from django_cfg.settings.url import base_engine
from django_cfg.state.replica_monitor import ReplicaHealth

__all__ = ["DatabasesAdmin", "database_rows", "register_databases_page"]

TEMPLATE = "django_cfg/admin/databases.html"


def _server(alias: str) -> str:
    """Engine, host:port and database name of ``alias`` (never its user or password)."""
    entry = connections.settings.get(alias, {})
    engine = base_engine(str(entry.get("ENGINE", ""))).rsplit(".", 1)[-1]
    host, port, name = entry.get("HOST") or "", entry.get("PORT") or "", entry.get("NAME", "")
    if not host:
        return f"{engine} {name}"  # SQLite's file, or a local socket
    return f"{engine} {host}:{port}/{name}" if port else f"{engine} {host}/{name}"


def _breaker(health: ReplicaHealth | None, now: float) -> tuple[str, str]:
    """(reachability, breaker) as the monitor last saw them."""
    if health is None:
        return "not watched (no replicas)", "-"
    if health.retry_at > now:
        reason = f": {health.last_error}" if health.last_error else ""
        return f"unreachable{reason}", f"open, retry in {health.retry_at - now:.1f} s"
    if health.failures:
        return "reachable (retrying)", f"half-open after {health.failures} failure(s)"
    return "reachable", "closed"


def _lag(health: ReplicaHealth | None) -> str:
    if health is None or (health.lag_seconds is None and health.lag_bytes is None):
        return "-"
    seconds = "?" if health.lag_seconds is None else f"{health.lag_seconds:.2f} s"
    size = "?" if health.lag_bytes is None else f"{health.lag_bytes} bytes"
    return f"{seconds}, {size}"


def database_rows(runtime: DatabaseRuntime) -> list[dict[str, str]]:
    """One row per alias of ``runtime``'s topology: alias, role, server, reachability, breaker,
    lag. Read from the monitor's state only: no connection is made."""
    monitor = runtime.monitor
    now = time.monotonic()
    rows = []
    for alias, role in runtime.topology.roles.items():
        health = None
        if monitor is not None:
            health = monitor.health.get(alias) or monitor.primary_health.get(alias)
        reachability, breaker = _breaker(health, now)
        rows.append(
            {
                "alias": alias,
                "role": role.describe(),
                "server": _server(alias),
                "reachability": reachability,
                "breaker": breaker,
                "lag": _lag(health) if role.replica_of is not None else "-",
            }
        )
    return rows


def page_context(runtime: DatabaseRuntime) -> dict[str, Any]:
    """What the page shows: the databases, the counters and the open tenants."""
    registry = runtime.state.tenant_registry
    return {
        "databases": database_rows(runtime),
        "counters": sorted(runtime.counts.items()),
        "tenants": list(registry.open.items()) if registry is not None else None,
        "max_open": registry.max_open if registry is not None else None,
        "primary_reads": sorted(runtime.options.primary_reads),
    }


class DatabasesAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The ``Database`` model's admin: its change list is the "Databases" page, nothing else."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Databases",
            "opts": self.model._meta,
            **page_context(current_runtime()),
            **(extra_context or {}),
        }
        return TemplateResponse(request, TEMPLATE, context)


def register_databases_page(site: admin.AdminSite) -> None:
    """Put the "Databases" page on ``site`` (once)."""
    from django_cfg.models import Database

    if not site.is_registered(Database):
        site.register(Database, DatabasesAdmin)
