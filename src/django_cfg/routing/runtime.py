"""The database runtime: the one object that request-time code reads.

    from django_cfg.routing.runtime import current_runtime

    runtime = current_runtime()
    runtime.topology.home("blog")      # "blog_db": each app's home, each alias's role
    runtime.monitor                    # the ReplicaMonitor (None without replicas)
    runtime.pins.pin_seconds           # how long a write pins reads where no WAL position tells

It is built in ``AppConfig.ready`` from settings and rebuilt by one ``setting_changed``
receiver (``override_settings`` of a routing setting) and by ``add_database`` /
``remove_database``. The router, the replica backend, the pin middleware, the relation guards
and the commands all read it; none of them keeps state of its own. A rebuild keeps what did not
change: the replica monitor (its breakers, lag samples and counters) while the replicas are the
same, the relation caches while no app changed its home.

Databases can be added and removed while the process runs (tenants, tests):

    from django_cfg.routing.runtime import add_database, remove_database

    add_database("reports", DatabaseConfig.from_url("sqlite:///reports.sqlite3"), apps=["reports"])
    Report.objects.create(...)          # written to reports.sqlite3
    remove_database("reports")          # closes its connection, reports goes back to default

docs/routing.md ("Databases added at run time") says what each call changes and its limits.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model
from django.utils.connection import ConnectionDoesNotExist

from django_cfg.replicas.monitor import (
    COUNTERS,
    ReplicaHealth,
    ReplicaMonitor,
    replicas_by_primary,
)
from django_cfg.replicas.pinning import PinPolicy
from django_cfg.routing.topology import Topology, app_label
from django_cfg.settings.replica_options import ReplicaOptions
from django_cfg.settings.url import base_engine

if TYPE_CHECKING:
    from django_cfg.settings.database_config import DatabaseConfig

__all__ = [
    "DatabaseRuntime",
    "add_database",
    "current_runtime",
    "rebuild_runtime",
    "remove_database",
    "thread_connection",
]

_POSTGRESQL = "django.db.backends.postgresql"


ReadPlan = tuple[str, tuple[str, ReplicaHealth] | tuple[()] | None]
"""A model's home, and its replicas for reads: None without replicas, ``(alias, health)`` for a
single replica without a lag bound, ``()`` otherwise (``DatabaseRouter.db_for_read``)."""


class DatabaseRuntime:
    """Topology, replica monitor, pin policy and the caches derived from them, for one process.

    Immutable once built except for its caches; replaced, never changed, when settings or the
    set of databases change (the replaced one is marked ``retired`` so holders re-fetch).
    """

    def __init__(
        self,
        topology: Topology,
        options: ReplicaOptions | None = None,
        engines: Mapping[str, str] | None = None,
        *,
        added: Mapping[str, Mapping[str, Any]] | None = None,
        removed: Iterable[str] = (),
        previous: DatabaseRuntime | None = None,
    ) -> None:
        """``engines``: alias -> ENGINE (PostgreSQL primaries pin reads by WAL position);
        ``added`` / ``removed``: the databases changed at run time, carried to the next
        rebuild; ``previous``: the runtime this one replaces (what did not change is kept)."""
        self.topology = topology
        self.options = options or ReplicaOptions()
        self.pins = PinPolicy(self.options.pin_seconds)
        self.added: Mapping[str, Mapping[str, Any]] = dict(added or {})
        self.removed = frozenset(removed)
        self.retired = False
        """True once another runtime replaced this one: holders (the router) re-fetch."""
        self.router_installed = False  # set with the patches (_apply_patches)
        self.patched = False
        self.closed_here: threading.local = (
            previous.closed_here if previous is not None else threading.local()
        )
        """Per thread: the ``removals`` count up to which this thread closed its connections."""
        self.removals: int = previous.removals if previous is not None else 0
        """How many times a database was removed in this process (``remove_database``)."""
        self.replaced: frozenset[str] = previous.replaced if previous is not None else frozenset()
        """Aliases removed at least once: threads may hold a connection of their old settings."""

        # Routing tables, compiled once: the router does dictionary lookups on them per call.
        self.homes: dict[str, str] = dict(topology.homes)
        self.primary_of: dict[str, str] = {a: topology.primary_of(a) for a in topology.aliases}
        self.primaries = frozenset(a for a, role in topology.roles.items() if role.is_primary)
        self.migration_targets = frozenset(topology.migration_targets)
        self.copy_of = {a: r.copy_of for a, r in topology.roles.items() if r.copy_of is not None}

        self.monitor_servers = _servers(replicas_by_primary(topology))
        """Where the monitor's primaries and replicas are (a change of server: a new monitor)."""
        self.monitor = _monitor_for(topology, self.options, self.monitor_servers, previous)
        monitor = self.monitor
        self.replicated: frozenset[str] = frozenset(monitor.replicas if monitor else ())
        self.single_replicas = monitor.single_replicas if monitor else {}
        self.counts: dict[str, int] = monitor.counts if monitor else dict.fromkeys(COUNTERS, 0)
        engines = engines or {}
        self.lsn_primaries = frozenset(
            primary
            for primary in self.replicated
            if base_engine(engines.get(primary, "")) == _POSTGRESQL
        )
        self.write_marks = {primary: primary in self.lsn_primaries for primary in self.replicated}
        """Primaries whose writes mark this context: True if by WAL position, False by time."""

        # Caches, filled on first use by the code that owns each computation.
        self.wrappers = threading.local()
        """Per thread: ``{alias: connections[alias]}`` for the router (connections[] is slow)."""
        self.read_plans: dict[type[Model], ReadPlan] = {}
        """``DatabaseRouter.db_for_read``: per model, its home and its replicas for reads."""
        self.write_plans: dict[type[Model], tuple[str, bool | None]] = {}
        """``DatabaseRouter.db_for_write``: per model, its home and ``write_marks[home]``."""
        self.pointers: dict[tuple[type[Model], type[Model]], bool] = {}
        """``allow_relation``: whether a model has a ForeignKey another model's row can fill."""
        self.crossing_fields: frozenset[Any] | None = None
        """``relations.crossing``: the relation fields that cross databases."""
        self.tables_elsewhere: dict[str, dict[str, str]] = {}
        """``relations.crossing``: per alias, ``{db_table: home}`` of the tables it lacks."""
        self.intent_tables: set[tuple[str, str]] = set()
        """``relations.delete_intents``: (alias, NAME) known to hold the intents table."""
        if previous is not None:
            self._keep_caches(previous)

    @classmethod
    def from_settings(
        cls,
        source: Any = settings,
        *,
        added: Mapping[str, Mapping[str, Any]] | None = None,
        removed: Iterable[str] = (),
        previous: DatabaseRuntime | None = None,
    ) -> DatabaseRuntime:
        """Compile ``source`` (``django.conf.settings`` by default) and the run-time changes."""
        topology = Topology.from_settings(source, added=added, removed=removed)
        databases: Mapping[str, Any] = getattr(source, "DATABASES", {}) or {}
        engines = {alias: db.get("ENGINE", "") for alias, db in databases.items()}
        for alias in added or {}:
            if alias in connections.settings:
                engines[alias] = connections.settings[alias].get("ENGINE", "")
        return cls(
            topology,
            ReplicaOptions.from_settings(source),
            engines,
            added=added,
            removed=removed,
            previous=previous,
        )

    def _keep_caches(self, previous: DatabaseRuntime) -> None:
        self.intent_tables = {key for key in previous.intent_tables if key[0] not in self.removed}
        if previous.homes != self.homes:
            return  # apps moved: relations and the tables each database holds are recomputed
        self.crossing_fields = previous.crossing_fields
        self.pointers = previous.pointers
        for alias, tables in previous.tables_elsewhere.items():
            if self._holds_same(previous, alias):
                self.tables_elsewhere[alias] = tables

    def _holds_same(self, previous: DatabaseRuntime, alias: str) -> bool:
        old, new = previous.topology, self.topology
        return alias in new.roles and (old.primary_of(alias), old.copy_of(alias)) == (
            new.primary_of(alias),
            new.copy_of(alias),
        )


def _monitor_for(
    topology: Topology,
    options: ReplicaOptions,
    servers: Mapping[str, tuple[Any, ...]],
    previous: DatabaseRuntime | None,
) -> ReplicaMonitor | None:
    """The previous monitor while the replicas, their servers and the options are unchanged,
    else a new one (``rebuild_runtime`` closes the old one once the new runtime is current)
    that keeps what the old one knew of the databases still on the same servers: opening a
    tenant with replicas does not reset the breakers and lag of every other replica."""
    replicas = replicas_by_primary(topology)
    old = previous.monitor if previous is not None else None
    if old is None or previous is None or old.options != options:
        return ReplicaMonitor(topology, options) if replicas else None
    if old.replicas == replicas and previous.monitor_servers == servers:
        return old
    if not replicas:
        return None
    known = previous.monitor_servers
    kept = frozenset(alias for alias, server in servers.items() if known.get(alias) == server)
    return ReplicaMonitor(topology, options, previous=old, kept=kept)


def _servers(replicas: Mapping[str, Iterable[Any]]) -> dict[str, tuple[Any, ...]]:
    """Where each primary and replica of ``replicas`` is: a monitor follows these servers."""
    aliases = [*replicas, *(role.alias for roles in replicas.values() for role in roles)]
    server = ("ENGINE", "HOST", "PORT", "NAME", "USER")
    return {
        alias: tuple(connections.settings.get(alias, {}).get(key) for key in server)
        for alias in aliases
    }


# The process's runtime ----------------------------------------------------------------------------

_current: DatabaseRuntime | None = None
_building = threading.RLock()


def current_runtime() -> DatabaseRuntime:
    """The process's database runtime (built from settings on first use)."""
    return _current if _current is not None else rebuild_runtime()


def rebuild_runtime(
    *, added: Mapping[str, Mapping[str, Any]] | None = None, removed: Iterable[str] | None = None
) -> DatabaseRuntime:
    """Compile settings again (with the run-time changes so far, or the ones given) and make
    the result the current runtime. Called from ``AppConfig.ready`` and on ``setting_changed``."""
    global _current  # noqa: PLW0603 (the one piece of process state: everything else hangs off it)
    with _building:
        previous = _current
        if added is None:
            added = previous.added if previous is not None else {}
        if removed is None:
            removed = previous.removed if previous is not None else ()
        runtime = DatabaseRuntime.from_settings(
            settings, added=added, removed=removed, previous=previous
        )
        _current = runtime
        if previous is not None:
            previous.retired = True
            if previous.monitor is not None and previous.monitor is not runtime.monitor:
                previous.monitor.close()
        _apply_patches(runtime, previous)  # in the lock: patches always match the current one
    return runtime


def _apply_patches(runtime: DatabaseRuntime, previous: DatabaseRuntime | None) -> None:
    """The patches of Django this runtime needs (``django_cfg.patches``): installed for the
    relations that cross databases and for primaries with replicas when the router is installed,
    undone when it is not. Redone only when an app changed its home, a primary gained or lost
    its replicas, or the router came or went (adding a database that no app lives on and that
    is no replica costs nothing here)."""
    from django.apps import apps

    from django_cfg import patches
    from django_cfg.routing.topology import router_installed

    if not apps.models_ready:
        return  # AppConfig.ready rebuilds once the models are loaded
    runtime.router_installed = router_installed(getattr(settings, "DATABASE_ROUTERS", ()))
    if (
        previous is not None
        and previous.patched
        and previous.homes == runtime.homes
        and previous.replicated == runtime.replicated
        and previous.router_installed == runtime.router_installed
        # e.g. a database added at run time as the first or only read-only one:
        and patches.wraps_connections(previous.topology)
        == patches.wraps_connections(runtime.topology)
    ):
        runtime.patched = True
        return
    if runtime.router_installed:
        patches.install(runtime.topology)
    else:
        patches.uninstall()
    runtime.patched = True


# Databases added and removed at run time ----------------------------------------------------------


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

    with _building:  # checked and applied as one step: concurrent calls see each other
        runtime = current_runtime()
        if alias in connections.settings or alias in runtime.topology.roles:
            raise ValueError(
                f"add_database({alias!r}): database {alias!r} is already configured. "
                f"Call remove_database({alias!r}) first to replace it, or choose another alias."
            )
        _check_role(alias, role)
        from django_cfg import patches  # imports the relations, which read the runtime

        patches.add_connection(alias, settings_dict)  # with Django's defaults, as at startup
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
    with _building:  # checked and applied as one step: concurrent calls see each other
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
        from django_cfg import patches

        patches.remove_connection(alias)  # first: closing below then creates nothing
        _close_here(alias)
        added = {a: role for a, role in runtime.added.items() if a != alias}
        rebuilt = rebuild_runtime(added=added, removed=runtime.removed | {alias})
        rebuilt.removals += 1
        rebuilt.replaced |= {alias}
        rebuilt.closed_here.upto = rebuilt.removals
    return rebuilt


def close_removed_connections(**_: Any) -> None:
    """Close this thread's connections to databases removed (or removed and added again with
    other settings) since it last looked: a ``request_started``/``request_finished`` receiver;
    a worker thread that serves no requests calls it between jobs. Costs one comparison when
    nothing was removed."""
    runtime = _current
    if runtime is None or getattr(runtime.closed_here, "upto", 0) == runtime.removals:
        return
    runtime.closed_here.upto = runtime.removals
    for alias in runtime.replaced:
        _close_here(alias)


def _close_here(alias: str) -> None:
    """Close and forget this thread's connection to ``alias`` if it is one of settings that are
    gone (removed, or replaced by ``add_database``); never opens one."""
    connection = thread_connection(alias)
    if connection is None or connection.settings_dict is connections.settings.get(alias):
        return
    connection.close()
    del connections[alias]


def thread_connection(alias: str) -> Any:
    """This thread's connection wrapper of ``alias`` if it made one, without making one:
    ``connections[alias]`` would, and opens a tenant's database (patches.py, patch 8). Read
    where Django keeps them (``tests/patches/test_patches.py`` pins it)."""
    return getattr(connections._connections, alias, None)  # type: ignore[attr-defined]


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
