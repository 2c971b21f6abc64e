"""Databases added to and removed from the process while it runs (tenants, tests).

    from django_cfg.runtime.added_databases import add_database, remove_database

    add_database("reports", DatabaseConfig.from_url("sqlite:///reports.sqlite3"), apps=["reports"])
    Report.objects.create(...)          # written to reports.sqlite3
    remove_database("reports")          # closes its connection, reports goes back to default

Each call rebuilds the runtime (``django_cfg.runtime.runtime``); docs/routing.md ("Databases
added at run time") says what each call changes and its limits.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils.connection import ConnectionDoesNotExist

from django_cfg.runtime.runtime import (
    DatabaseRuntime,
    building,
    current_runtime,
    publish,
    rebuild_runtime,
    removed_since,
    thread_connection,
)
from django_cfg.state.topology import app_label

if TYPE_CHECKING:
    from django_cfg.runtime.process_state import DjangoHooks
    from django_cfg.settings.database_config import DatabaseConfig

__all__ = ["add_database", "close_removed_connections", "remove_database"]


def add_database(
    alias: str,
    config: DatabaseConfig | Mapping[str, Any],
    *,
    apps: Iterable[str] = (),
    replica_of: str | None = None,
    read_only: bool | None = None,
    copy_of: str | None = None,
    read_weight: float | None = None,
) -> DatabaseRuntime:
    """Add database ``alias`` to this process: its connection settings, its role, its apps.

        add_database("tenant_42", DatabaseConfig.from_url(url), apps=["invoices"])
        add_database("replica_2", {"ENGINE": ..., "NAME": ...}, replica_of="default")

    ``config`` is a ``DatabaseConfig`` (its ``apps``, ``replica_of``, ``read_only``,
    ``copy_of`` and ``read_weight`` count, the keywords override them) or a ``DATABASES`` entry.
    The alias must be new; an app may move to it only from ``default`` (an app that another
    rule sends elsewhere is refused). Returns the rebuilt runtime.
    """
    from django_cfg.settings.database_config import DatabaseConfig

    overrides = {
        "replica_of": replica_of,
        "read_only": read_only,
        "copy_of": copy_of,
        "read_weight": read_weight,
    }
    changes: dict[str, Any] = {key: value for key, value in overrides.items() if value is not None}
    if isinstance(config, DatabaseConfig):
        if apps:
            changes["apps"] = (*config.apps, *apps)
        if changes:  # one DatabaseConfig: its connection settings and its role agree
            config = DatabaseConfig.model_validate({**config.model_dump(), **changes})
        settings_dict = config.to_django(getattr(settings, "BASE_DIR", None))
        role = config.role_setting()  # what DjangoConfig writes into DATABASE_ROLES
    else:
        if read_only:
            raise ValueError(
                f"add_database({alias!r}, {{...}}, read_only=True): a DATABASES entry cannot be "
                "made read-only here; pass DatabaseConfig.from_url(url, read_only=True), which "
                "sets the session's read-only option."
            )
        settings_dict = dict(config)
        role = {**changes, "apps": list(apps)}
    role = {key: value for key, value in role.items() if value not in (None, [], ())}

    with building:  # checked and applied as one step: concurrent calls see each other
        runtime = current_runtime()
        if alias in connections.settings or alias in runtime.topology.roles:
            raise ValueError(
                f"add_database({alias!r}): database {alias!r} is already configured. "
                f"Call remove_database({alias!r}) first to replace it, or choose another alias."
            )
        _check_role(alias, role)
        _close_pool(alias)  # one a late close of the alias's old connection made again
        _hooks(runtime, f"add_database({alias!r})").add_connection(alias, settings_dict)
        derived = DatabaseRuntime.with_plain_database(runtime, alias, role)
        if derived is not None:  # a tenant's database: no rebuild from settings
            return publish(derived, runtime)
        return rebuild_runtime(
            added={**runtime.added, alias: role}, removed=runtime.removed - {alias}
        )


def _check_role(alias: str, role: Mapping[str, Any]) -> None:
    topology = current_runtime().topology
    for key in ("replica_of", "copy_of"):
        target = role.get(key)
        if target is not None and target not in topology.roles:
            raise ValueError(
                f"add_database({alias!r}, {key}={target!r}): no database {target!r} is "
                f"configured; configured: {', '.join(topology.aliases)}."
            )
    if role.get("replica_of") and role.get("apps"):
        raise ValueError(
            f"add_database({alias!r}): a replica holds its primary's apps; route "
            f"{list(role['apps'])!r} to {role['replica_of']!r} instead."
        )
    for app in role.get("apps", ()):
        label = app_label(app)
        home = topology.home(label)
        if home != DEFAULT_DB_ALIAS:
            raise ValueError(
                f"add_database({alias!r}, apps=[{app!r}]): app {label!r} already lives on "
                f"{home!r}. Remove that rule (or remove_database({home!r})) first."
            )


def remove_database(alias: str) -> DatabaseRuntime:
    """Remove database ``alias`` from this process: its routing, its settings, its connection.

    The calling thread's connection to it is closed now; each other thread's when that thread
    starts or finishes a request (``request_started``/``request_finished``). A thread that serves
    no requests (a worker loop) keeps its connection until it calls
    ``close_removed_connections()`` or ends. Call it from synchronous code. Apps that lived on
    ``alias`` go back to ``default``. Refused for ``default`` and for a primary that still has
    replicas or copies. Returns the rebuilt runtime.
    """
    if alias == DEFAULT_DB_ALIAS:
        raise ValueError("remove_database('default'): Django needs a 'default' database.")
    _refuse_in_event_loop(f"remove_database({alias!r})")
    with building:  # checked and applied as one step: concurrent calls see each other
        runtime = current_runtime()
        if alias not in runtime.topology.roles and alias not in connections.settings:
            raise ConnectionDoesNotExist(
                f"remove_database({alias!r}): no database {alias!r} is configured; "
                f"configured: {', '.join(runtime.topology.aliases)}."
            )
        followers = [
            role.alias
            for role in runtime.topology.roles.values()
            if alias in (role.replica_of, role.copy_of) and role.alias != alias
        ]
        if followers:
            one = len(followers) == 1
            raise ValueError(
                f"remove_database({alias!r}): {', '.join(map(repr, followers))} "
                f"{'is a replica or copy' if one else 'are replicas or copies'} of "
                f"{alias!r}; remove {'it' if one else 'them'} first."
            )
        # First: closing below then creates nothing.
        _hooks(runtime, f"remove_database({alias!r})").remove_connection(alias)
        _close_here(alias)
        _close_pool(alias)
        derived = DatabaseRuntime.with_plain_database(runtime, alias, None)
        if derived is not None:  # a tenant's database: no rebuild from settings
            rebuilt = publish(derived, runtime)
        else:
            added = {a: role for a, role in runtime.added.items() if a != alias}
            removed = runtime.removed | {alias}
            rebuilt = rebuild_runtime(added=added, removed=removed, removed_now=alias)
        rebuilt.state.closed_here.upto = rebuilt.removals
    return rebuilt


def close_removed_connections(**_: Any) -> None:
    """Close this thread's connections to databases removed (or removed and added again with
    other settings) since it last looked: a ``request_started``/``request_finished`` receiver;
    a worker thread that serves no requests calls it between jobs. Costs one comparison when
    nothing was removed."""
    runtime = current_runtime()
    closed_here = runtime.state.closed_here
    upto = getattr(closed_here, "upto", 0)
    if upto == runtime.removals:
        return
    closed_here.upto = runtime.removals
    for alias in removed_since(runtime, upto):
        _close_here(alias)


def _close_here(alias: str) -> None:
    """Close and forget this thread's connection to ``alias`` if it is one of settings that are
    gone (removed, or replaced by ``add_database``); never opens one."""
    connection = thread_connection(alias)
    if connection is None or connection.settings_dict is connections.settings.get(alias):
        return
    connection.close()
    del connections[alias]


def _close_pool(alias: str) -> None:
    """Close the connection pool Django keeps for ``alias`` (PostgreSQL ``OPTIONS["pool"]``).

    Django keeps one pool per alias for the whole process (``DatabaseWrapper._connection_pools``)
    and closes it only at exit: a removed database's pool would keep its ``min_size``
    connections open for ever, one more set per tenant ``max_open`` closed, and a database added
    again under the alias (a moved tenant) would get the old pool, connected to the old server.
    A connection of another thread still out of the pool is closed when that thread returns it
    (psycopg_pool closes what is returned to a closed pool)."""
    backend = sys.modules.get("django.db.backends.postgresql.base")  # not imported: no pools
    pools: dict[str, Any] = getattr(
        getattr(backend, "DatabaseWrapper", None), "_connection_pools", {}
    )
    pool = pools.pop(alias, None)
    if pool is not None:
        pool.close()


def _refuse_in_event_loop(call: str) -> None:
    """Closing a connection is synchronous in Django: refuse before changing anything."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        f"{call} closes database connections, which Django does synchronously: call it "
        f"from synchronous code, e.g. await sync_to_async(remove_database)(alias)."
    )


def _hooks(runtime: DatabaseRuntime, call: str) -> DjangoHooks:
    hooks = runtime.state.hooks
    if hooks is None:
        raise ImproperlyConfigured(
            f"{call} needs Django set up with 'django_cfg' in INSTALLED_APPS (DjangoConfig adds "
            "it): call it after django.setup(), e.g. in AppConfig.ready() or later."
        )
    return hooks
