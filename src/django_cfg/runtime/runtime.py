"""The database runtime: the one object that request-time code reads.

    from django_cfg.runtime.runtime import current_runtime

    runtime = current_runtime()
    runtime.topology.home("blog")      # "blog_db": each app's home, each alias's role
    runtime.monitor                    # the ReplicaMonitor (None without replicas)
    runtime.pins.pin_seconds           # how long a write pins reads where no WAL position tells

It is built in ``AppConfig.ready`` from settings and rebuilt by one ``setting_changed``
receiver (``override_settings`` of a routing setting) and by ``add_database`` /
``remove_database``. The router, the replica backend, the pin middleware, the relation guards
and the commands all read it; none of them keeps state of its own: what must outlive a rebuild
(the open tenants, what the patches changed) is on ``runtime.state`` (``process_state``). A
rebuild keeps what did not change: the replica monitor (its breakers, lag samples and counters)
while the replicas are the same, the relation caches while no app changed its home.
``runtime.added_databases`` adds and removes databases while the process runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

from django_cfg.runtime.process_state import ProcessState
from django_cfg.settings.replica_options import ReplicaOptions
from django_cfg.settings.url import base_engine
from django_cfg.state.growing_tables import AliasPrefix, GrowingSet, GrowingTable
from django_cfg.state.pins import PinPolicy
from django_cfg.state.replica_monitor import (
    COUNTERS,
    ReplicaHealth,
    ReplicaMonitor,
    replicas_by_primary,
)
from django_cfg.state.topology import DatabaseRole, Topology

if TYPE_CHECKING:
    from django_cfg.runtime.process_state import DjangoHooks

__all__ = [
    "DatabaseRuntime",
    "building",
    "current_runtime",
    "install_django_hooks",
    "publish",
    "rebuild_runtime",
    "removed_since",
    "thread_connection",
]

_POSTGRESQL = "django.db.backends.postgresql"


ReadPlan = tuple[str, tuple[str, ReplicaHealth] | tuple[()] | None]
"""A model's home, and its replicas for reads: None without replicas, ``(alias, health)`` for a
single replica without a lag bound, ``()`` otherwise (``DatabaseRouter.db_for_read``)."""


class DatabaseRuntime:
    """Topology, replica monitor, pin policy and the caches derived from them, for one process.

    Replaced, never changed, when settings or the set of databases change: after it is built
    only its caches fill, and ``retired`` is set once another runtime replaced it (holders
    re-fetch). What outlives it (the open tenants, patches applied) is on ``state``.
    """

    # Slots: the routers read a dozen of these per query, and an instance with more than 30
    # attributes in a __dict__ loses CPython's fast attribute loads (its keys are no longer
    # shared): +3-7% instructions per tenant routing decision, measured (RESULTS.md, issue 19).
    __slots__ = (
        "_reads_primary",
        "added",
        "copy_of",
        "counts",
        "crossing_fields",
        "derived_for",
        "homes",
        "intent_tables",
        "lsn_primaries",
        "migration_targets",
        "monitor",
        "monitor_servers",
        "options",
        "pins",
        "pointers",
        "primaries",
        "primary_of",
        "primary_reads",
        "read_plans",
        "recent_removals",
        "removals",
        "removed",
        "replicated",
        "retired",
        "shared",
        "single_replicas",
        "state",
        "tables_elsewhere",
        "topology",
        "wrappers",
        "write_marks",
        "write_plans",
    )

    def __init__(
        self,
        topology: Topology,
        options: ReplicaOptions | None = None,
        engines: Mapping[str, str] | None = None,
        *,
        added: Mapping[str, Mapping[str, Any]] | None = None,
        removed: Iterable[str] = (),
        previous: DatabaseRuntime | None = None,
        removed_now: str | None = None,
    ) -> None:
        """``engines``: alias -> ENGINE (PostgreSQL primaries pin reads by WAL position);
        ``added`` / ``removed``: the databases changed at run time, carried to the next
        rebuild; ``previous``: the runtime this one replaces (what did not change is kept);
        ``removed_now``: the database whose removal this rebuild is for."""
        self.topology = topology
        self.options = options or ReplicaOptions()
        self.pins = PinPolicy(self.options.pin_seconds)
        self.added: Mapping[str, Mapping[str, Any]] = dict(added or {})
        self.removed = frozenset(removed)
        self.state: ProcessState = previous.state if previous is not None else ProcessState()
        """What outlives this runtime (``process_state``): handed on to the next one."""
        self.retired = False
        """True once another runtime replaced this one: holders (the router) re-fetch."""
        self.derived_for: tuple[str, bool] | None = None
        """(alias, added) when derived from ``previous`` for one plain database added (True)
        or removed (False) by ``with_plain_database``; None when compiled from settings."""
        self.shared: SharedAliasTables | None = None
        """The alias tables this runtime shares with the runtimes derived from it (None: its
        own; ``with_plain_database``)."""
        self.removals, self.recent_removals = _removals(previous, removed_now, self.state)
        """How many times a database was removed in this process, and the last removals (each
        one's number and alias): threads may hold a connection made with their old settings."""
        self._compile_routing_tables(topology)
        self._watch_replicas(topology, engines or {}, previous)

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

    def _compile_routing_tables(self, topology: Topology) -> None:
        """The router's lookup tables: it does dictionary lookups on them per call."""
        self.homes: dict[str, str] = dict(topology.homes)
        self.primary_of: dict[str, str] = {a: topology.primary_of(a) for a in topology.aliases}
        self.primaries: AbstractSet[str] = frozenset(
            a for a, role in topology.roles.items() if role.is_primary
        )
        self.migration_targets = frozenset(topology.migration_targets)
        self.copy_of = {a: r.copy_of for a, r in topology.roles.items() if r.copy_of is not None}
        self.primary_reads = frozenset(label.lower() for label in self.options.primary_reads)
        """App and model labels (lower case) whose reads always go to the primary."""
        self._reads_primary: dict[type[Model], bool] = {}

    def reads_primary(self, model: type[Model]) -> bool:
        """Whether ``model``'s reads always go to its primary (``ReplicaOptions.primary_reads``:
        auth and sessions by default). The router asks once per model and keeps the answer in
        its read plan; the tenant router asks per read of a tenant with replicas (one lookup)."""
        try:
            return self._reads_primary[model]
        except (KeyError, TypeError):  # first time for this model (or a test's stand-in)
            meta = model._meta
            found = meta.app_label.lower() in self.primary_reads or (
                meta.label_lower in self.primary_reads
            )
            if isinstance(model, type):
                self._reads_primary[model] = found
            return found

    def _watch_replicas(
        self, topology: Topology, engines: Mapping[str, str], previous: DatabaseRuntime | None
    ) -> None:
        """The replica monitor (kept from ``previous`` while its servers are the same) and the
        tables the router reads it by."""
        self.monitor_servers = _servers(replicas_by_primary(topology))
        """Where the monitor's primaries and replicas are (a change of server: a new monitor)."""
        self.monitor = _monitor_for(topology, self.options, self.monitor_servers, previous)
        monitor = self.monitor
        self.replicated: frozenset[str] = frozenset(monitor.replicas if monitor else ())
        self.single_replicas = monitor.single_replicas if monitor else {}
        self.counts: dict[str, int] = monitor.counts if monitor else dict.fromkeys(COUNTERS, 0)
        self.lsn_primaries = frozenset(
            primary
            for primary in self.replicated
            if base_engine(engines.get(primary, "")) == _POSTGRESQL
        )
        self.write_marks = {primary: primary in self.lsn_primaries for primary in self.replicated}
        """Primaries whose writes mark this context: True if by WAL position, False by time."""

    @classmethod
    def from_settings(
        cls,
        source: Any = settings,
        *,
        added: Mapping[str, Mapping[str, Any]] | None = None,
        removed: Iterable[str] = (),
        previous: DatabaseRuntime | None = None,
        removed_now: str | None = None,
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
            removed_now=removed_now,
        )

    @classmethod
    def with_plain_database(
        cls, previous: DatabaseRuntime, alias: str, role: Mapping[str, Any] | None
    ) -> DatabaseRuntime | None:
        """``previous`` with ``alias`` added (``role``: its DATABASE_ROLES entry) or removed
        (None), when ``alias`` is a plain database: no apps, no replica, no copy, none of its
        own (a tenant's database). What ``from_settings`` would build, derived from
        ``previous``: an addition costs O(1) (the alias tables are shared, see
        ``SharedAliasTables``), a removal copies them (C-level dict and set copies): opening n
        tenants costs O(n) in total (issue 23). None when ``alias`` is not plain: rebuild from
        settings."""
        old = previous.topology
        if role is not None:
            if set(role) - {"read_only"} or alias in old.roles:
                return None
            new_role: DatabaseRole | None = DatabaseRole(
                alias, read_only=bool(role.get("read_only", False))
            )
        else:
            current = old.roles.get(alias)  # remove_database checked that nothing follows it
            if current is None or not _plain(old, current):
                return None
            new_role = None
        runtime = cls.__new__(cls)
        for name in _SHARED_WITH_PREVIOUS:  # nothing of these depends on a plain alias
            setattr(runtime, name, getattr(previous, name))
        runtime.retired = False
        runtime.derived_for = (alias, new_role is not None)
        removed_now = None if new_role else alias
        runtime.removals, runtime.recent_removals = _removals(previous, removed_now, runtime.state)
        if new_role is not None:
            runtime._add_plain(previous, alias, role or {}, new_role)
        else:
            runtime._remove_plain(previous, alias)
        return runtime

    def _add_plain(
        self, previous: DatabaseRuntime, alias: str, setting: Mapping[str, Any], role: DatabaseRole
    ) -> None:
        """This runtime as ``previous`` with plain ``alias`` added: O(1), the alias tables
        (and the caches by alias, which no plain alias changes) shared with ``previous``."""
        tables = previous.shared
        if tables is None or tables.tip is not previous:  # the first addition since a rebuild
            tables = SharedAliasTables(previous)
        tables.add(alias, dict(setting), role)
        tables.tip, self.shared = self, tables
        self.topology = previous.topology._replace(
            aliases=AliasPrefix(tables.aliases, len(tables.aliases)), roles=tables.roles_view
        )
        self.primary_of, self.primaries, self.added = (
            tables.primary_of,
            tables.primaries,
            tables.added,
        )
        self.removed = previous.removed - {alias} if alias in previous.removed else previous.removed
        self.wrappers, self.intent_tables = previous.wrappers, previous.intent_tables
        self.tables_elsewhere = previous.tables_elsewhere
        if alias in self.tables_elsewhere:  # filled for the alias before it was added
            self.tables_elsewhere = _without(self.tables_elsewhere, alias)

    def _remove_plain(self, previous: DatabaseRuntime, alias: str) -> None:
        """This runtime as ``previous`` with plain ``alias`` removed: copies of the alias tables
        without it (a table a thread may be reading never loses an entry)."""
        old = previous.topology
        roles: dict[str, DatabaseRole] = dict(old.roles)
        primary_of = dict(previous.primary_of)
        del roles[alias], primary_of[alias]
        at = old.aliases.index(alias)
        self.topology = old._replace(
            aliases=(*old.aliases[:at], *old.aliases[at + 1 :]), roles=MappingProxyType(roles)
        )
        self.primary_of, self.primaries = primary_of, frozenset(previous.primaries) - {alias}
        self.shared = None
        added = dict(previous.added)
        added.pop(alias, None)
        # ``removed`` hides what settings' DATABASES declares: an alias added at run time is
        # not there (patch 6 took it out), so a tenant closed over and over does not grow it.
        declared = alias not in previous.added
        self.added = added
        self.removed = previous.removed | {alias} if declared else previous.removed
        self.tables_elsewhere = _without(previous.tables_elsewhere, alias)
        self.wrappers = threading.local()  # a thread's wrapper of the removed alias is not ours
        self.intent_tables = {key for key in previous.intent_tables.copy() if key[0] != alias}

    def _keep_caches(self, previous: DatabaseRuntime) -> None:
        # .copy(): other threads fill these caches meanwhile (one C call, no thread between)
        self.intent_tables = {
            key for key in previous.intent_tables.copy() if key[0] not in self.removed
        }
        if previous.homes != self.homes:
            return  # apps moved: relations and the tables each database holds are recomputed
        self.crossing_fields = previous.crossing_fields
        self.pointers = previous.pointers
        for alias, tables in previous.tables_elsewhere.copy().items():
            if self._holds_same(previous, alias):
                self.tables_elsewhere[alias] = tables

    def _holds_same(self, previous: DatabaseRuntime, alias: str) -> bool:
        old, new = previous.topology, self.topology
        return alias in new.roles and (old.primary_of(alias), old.copy_of(alias)) == (
            new.primary_of(alias),
            new.copy_of(alias),
        )


_SHARED_WITH_PREVIOUS = (
    "options",
    "pins",
    "state",
    "homes",
    "migration_targets",
    "copy_of",
    "primary_reads",
    "_reads_primary",
    "monitor_servers",
    "monitor",
    "replicated",
    "single_replicas",
    "counts",
    "lsn_primaries",
    "write_marks",
    "read_plans",
    "write_plans",
    "pointers",
    "crossing_fields",
)
"""What ``DatabaseRuntime.with_plain_database`` hands on unchanged: routing by app, replicas
and the caches by model do not depend on an alias no app lives on and no replica follows."""


class SharedAliasTables:
    """The alias tables of a chain of runtimes, each derived from the one before by adding a
    plain database (``DatabaseRuntime.with_plain_database``): they only grow, and only the
    last runtime of the chain (``tip``) adds to them, under ``building``.

    What this changes of "a runtime is replaced, never changed": a runtime of the chain that
    another replaced finds in its ``topology.roles``, ``primary_of``, ``primaries`` and
    ``added`` the plain databases added after it (each one already in
    ``connections.settings``: it routes nothing differently, a plain alias is its own primary
    and no app's home); its ``topology.aliases`` stays exactly its own (``AliasPrefix``).
    Nothing is ever removed from these tables: a removal gives the new runtime copies of its
    own, so a thread still reading an older runtime never misses an entry it saw. Iterating
    them goes over a snapshot (``state.growing_tables``)."""

    __slots__ = ("added", "aliases", "primaries", "primary_of", "roles", "roles_view", "tip")

    def __init__(self, runtime: DatabaseRuntime) -> None:
        """Copies of ``runtime``'s tables (O(aliases), once per chain)."""
        topology = runtime.topology
        self.aliases: list[str] = list(topology.aliases)
        self.roles: GrowingTable[str, DatabaseRole] = GrowingTable(topology.roles)
        self.roles_view = MappingProxyType(self.roles)
        self.primary_of: GrowingTable[str, str] = GrowingTable(runtime.primary_of)
        self.primaries: GrowingSet[str] = GrowingSet(runtime.primaries)
        self.added: GrowingTable[str, Mapping[str, Any]] = GrowingTable(runtime.added)
        self.tip: DatabaseRuntime = runtime

    def add(self, alias: str, setting: Mapping[str, Any], role: DatabaseRole) -> None:
        """``alias``, a plain database (its own primary), in every table."""
        self.roles[alias], self.primary_of[alias], self.added[alias] = role, alias, setting
        if role.is_primary:
            self.primaries.add(alias)
        self.aliases.append(alias)  # last: an AliasPrefix of the next runtime includes it


def _without(cache: dict[str, Any], alias: str) -> dict[str, Any]:
    """A copy of ``cache`` without ``alias``: copied in one C call (other threads fill it)."""
    kept = cache.copy()
    kept.pop(alias, None)
    return kept


def _plain(topology: Topology, role: DatabaseRole) -> bool:
    """Whether ``role``'s alias is plain: no app's home, no replica, no copy, not default."""
    return (
        role.replica_of is None
        and role.copy_of is None
        and role.alias != DEFAULT_DB_ALIAS
        and role.alias not in topology.homes.values()
        and not any(rule.alias == role.alias for rule in topology.rules)
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


RECENT_REMOVALS = 1024
"""How many of the last removals a runtime lists (``recent_removals``): a thread that missed
more (idle while tenants were closed for ``max_open``) looks at every alias ever removed."""


def _removals(
    previous: DatabaseRuntime | None, removed_now: str | None, state: ProcessState
) -> tuple[int, tuple[tuple[int, str], ...]]:
    """``previous``'s removal count and last removals, with ``removed_now`` counted (and noted in
    ``state.removed_aliases``). O(RECENT_REMOVALS) per removal, whatever the process removed
    before: a process that closes a tenant for ``max_open`` on most requests pays it each time."""
    count, recent = (previous.removals, previous.recent_removals) if previous else (0, ())
    if removed_now is None:
        return count, recent
    state.removed_aliases.add(removed_now)
    return count + 1, (*recent[1 - RECENT_REMOVALS :], (count + 1, removed_now))


def removed_since(runtime: DatabaseRuntime, upto: int) -> Iterable[str]:
    """The aliases removed after removal number ``upto`` (up to ``runtime.removals``): read off
    the runtime's last removals, or, for a thread that missed more than those, every alias this
    process ever removed. O(removals missed), not O(tenants ever closed)."""
    recent = runtime.recent_removals
    if recent and recent[0][0] <= upto + 1:  # numbered one by one: removal n at n - first
        return {alias for _number, alias in recent[max(upto + 1 - recent[0][0], 0) :]}
    with building:  # added to only under it
        return tuple(runtime.state.removed_aliases)


# The process's runtime ----------------------------------------------------------------------------

_current: DatabaseRuntime | None = None
building = threading.RLock()
"""Held while a runtime is built and published, and while a database is added or removed."""


def current_runtime() -> DatabaseRuntime:
    """The process's database runtime (built from settings on first use)."""
    return _current if _current is not None else rebuild_runtime()


def rebuild_runtime(
    *,
    added: Mapping[str, Mapping[str, Any]] | None = None,
    removed: Iterable[str] | None = None,
    removed_now: str | None = None,
) -> DatabaseRuntime:
    """Compile settings again (with the run-time changes so far, or the ones given) and make
    the result the current runtime. Called from ``AppConfig.ready`` and on ``setting_changed``.

    Django's objects follow it (``DjangoHooks.follow``) before it is published, so a query
    routed by the new runtime always meets the patches it needs."""
    with building:
        previous = _current
        if added is None:
            added = previous.added if previous is not None else {}
        if removed is None:
            removed = previous.removed if previous is not None else ()
        runtime = DatabaseRuntime.from_settings(
            settings, added=added, removed=removed, previous=previous, removed_now=removed_now
        )
        return publish(runtime, previous)


def publish(runtime: DatabaseRuntime, previous: DatabaseRuntime | None) -> DatabaseRuntime:
    """Make ``runtime`` (built from ``previous``, the current one) current: Django's objects
    follow it first, then ``previous`` is retired. Called with ``building`` held."""
    global _current  # noqa: PLW0603 (the one piece of process state: everything else hangs off it)
    with building:
        if runtime.state.hooks is not None:
            runtime.state.hooks.follow(runtime)
        _current = runtime
        if previous is not None:
            previous.retired = True
            if previous.monitor is not None and previous.monitor is not runtime.monitor:
                previous.monitor.close()
    return runtime


def install_django_hooks(hooks: DjangoHooks) -> DatabaseRuntime:
    """Let the runtime change Django's objects through ``hooks`` (``django_cfg.patches``), and
    rebuild so that they follow the current topology: ``AppConfig.ready`` calls it once the
    models are loaded."""
    with building:
        if _current is not None:
            _current.state.hooks = hooks
            return rebuild_runtime()
        runtime = DatabaseRuntime.from_settings(settings)  # the first: compiled once, not twice
        runtime.state.hooks = hooks
        return publish(runtime, None)


def thread_connection(alias: str) -> Any:
    """This thread's connection wrapper of ``alias`` if it made one, without making one:
    ``connections[alias]`` would, and opens a tenant's database (patches.py, patch 8). Read
    where Django keeps them (``tests/patches/test_patches.py`` pins it)."""
    return getattr(connections._connections, alias, None)  # type: ignore[attr-defined]
