"""What a failed connection changes: its error names the database, and for a primary that has
replicas, the breaker opens and this context's read-your-writes marker waiting for the
primary's WAL position is dropped (the write failed, or the primary cannot say where it is).

``django_cfg.patches`` (patch 7) calls these around Django's ``connect()`` of every connection
while some database has replicas:

    >>> Person.objects.create(name="x")        # the primary is down
    OperationalError: database 'default' (db1:5432) cannot be reached: connection failed: ...
"""

from __future__ import annotations

from typing import Any

from django.db import OperationalError

from django_cfg.runtime.runtime import current_runtime
from django_cfg.settings.url import shown_servers
from django_cfg.state import pins
from django_cfg.state.missing_database import database_missing, missing_database_fix

__all__ = ["connected", "connection_failed"]


def connected(wrapper: Any) -> None:
    """A connection of ``wrapper`` was opened: a primary that answers closes its breaker."""
    monitor = current_runtime().monitor
    if monitor is not None and wrapper.alias in monitor.primary_health:
        monitor.record_success(wrapper.alias)


def connection_failed(wrapper: Any, error: BaseException, seconds: float) -> Exception | None:
    """``wrapper`` could not connect (``seconds``: how long it tried). Returns the error to raise
    instead of ``error`` (the same kind, naming the database), or None to raise ``error``."""
    alias = wrapper.alias
    failed = alias
    if getattr(wrapper, "serving_primary", False):  # a replica that fell back to its primary
        failed = wrapper.primary_alias
    runtime = current_runtime()
    runtime.state.operations.connection_failures[failed] += 1  # the metrics' count
    monitor = runtime.monitor
    if monitor is not None and failed in monitor.primary_health:
        monitor.record_failure(failed, error, seconds)
        pins.drop_pending(failed)
    if not isinstance(error, wrapper.Database.OperationalError):
        return None
    settings = wrapper.settings_dict
    where = shown_servers(settings["HOST"], settings["PORT"]) if settings.get("HOST") else ""
    what = f"database {alias!r}" + (f" ({where})" if where else "")
    if failed != alias:
        what += f" and its primary {failed!r}"
    reason = " ".join(str(error).split())
    if database_missing(error):  # the server answered: it is up
        return OperationalError(f"{what}: {reason}. The {missing_database_fix(settings)}.")
    return OperationalError(
        f"{what} cannot be reached: {reason}. Check that the server is up and that HOST/PORT "
        "point at it; the connect timeout is OPTIONS['connect_timeout'] (URL ?connect_timeout=)."
    )
