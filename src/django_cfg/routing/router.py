"""The Django router that sends each app's models to their home database, and reads to replicas.

``DjangoConfig`` installs it (after the user's own ``database_routers``) whenever more than one
database is configured; with hand-written settings, add it yourself:

    DATABASE_ROUTERS = ["django_cfg.routing.router.DatabaseRouter"]
    DATABASE_ROUTING_RULES = {"blog": "blog_db", "shop": "shop_db"}

It answers from plain dicts built once from the ``Topology``; it never reads settings per call.
When it is the only router (what ``DjangoConfig`` writes unless you add routers of your own),
``django.db.router.db_for_read`` / ``db_for_write`` call it directly instead of looping over a
one-element list: the same answers, since it never returns None, at about half the cost.
Reads of a primary that has replicas go to a replica (docs/replicas.md) unless the code is in
``use_primary()``, in ``transaction.atomic()`` on that primary, or this context wrote to it and
no replica has that write yet.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

from django_cfg.replicas import pinning
from django_cfg.replicas.monitor import (
    ReplicaMonitor,
    ReplicaOptions,
    install_monitor,
    primary_wal_lsn,
)
from django_cfg.replicas.pinning import EMPTY
from django_cfg.routing.topology import ROUTER_PATH, Topology, get_topology
from django_cfg.settings.url import base_engine

__all__ = ["DatabaseRouter", "route_directly", "sole_router"]


class DatabaseRouter:
    """Home database per app label; replicas for reads; no writes or tables on replicas."""

    def __init__(self, topology: Topology | None = None) -> None:
        """Django builds it without arguments (from settings); tests may pass a ``topology``."""
        from django.conf import settings

        installed = topology is None
        topology = topology or get_topology()
        self._homes: dict[str, str] = dict(topology.homes)
        self._primary_of: dict[str, str] = {a: topology.primary_of(a) for a in topology.aliases}
        self._primaries = frozenset(a for a, role in topology.roles.items() if role.is_primary)
        self._migration_targets = frozenset(topology.migration_targets)
        self._cross_relations = topology.cross_database_relations
        self._copy_of = {a: r.copy_of for a, r in topology.roles.items() if r.copy_of is not None}
        self._pointers: dict[tuple[type[Model], type[Model]], bool] = {}
        self._monitor: ReplicaMonitor | None = None
        self._wrappers = threading.local()
        self._pins = pinning.current_pins
        self._single: dict[str, tuple[str, Any]] = {}
        self._replicated: frozenset[str] = frozenset()
        self._lsn_primaries: frozenset[str] = frozenset()
        self._pin_seconds = 0.0
        self._counts: dict[str, int] = {}
        if any(role.replica_of for role in topology.roles.values()):
            self._monitor = ReplicaMonitor(topology, ReplicaOptions.from_settings(settings))
            self._replicated = frozenset(self._monitor.replicas)
            self._single = self._monitor.single_replicas
            self._pin_seconds = self._monitor.options.pin_seconds
            self._counts = self._monitor.counts
            databases = getattr(settings, "DATABASES", {})
            self._lsn_primaries = frozenset(
                primary
                for primary in self._replicated
                if base_engine(databases.get(primary, {}).get("ENGINE", ""))
                == "django.db.backends.postgresql"
            )
            if installed:
                install_monitor(self._monitor)
        if installed:
            route_directly(self if sole_router(settings.DATABASE_ROUTERS) else None)

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        home = self._homes.get(model._meta.app_label, DEFAULT_DB_ALIAS)
        if hints:
            db = self._same_home_copy(home, hints, write=False)
            if db is not None:
                return db
        if home not in self._replicated:
            return home
        # Replicated data. Inlined, as this runs on every such read: a thread's first read, an
        # atomic block, use_primary() and PostgreSQL pins take _read_replicated().
        wrapper = self._wrappers.__dict__.get(home)
        if wrapper is not None and not wrapper.in_atomic_block:
            pins = self._pins()
            if pins is EMPTY:  # no use_primary(), no write marker in this context
                single = self._single.get(home)
                if single is not None:
                    alias, health = single  # one replica taking every read, no lag bound
                    if not health.retry_at or health.retry_at <= time.monotonic():
                        return alias
            elif not pins.forced and home not in self._lsn_primaries:
                write = pins.writes.get(home)
                if write is not None and time.time() - write.at < self._pin_seconds:
                    self._counts["primary:read_your_writes"] += 1  # a time-window pin
                    return home
        return self._read_replicated(home)

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        home = self._homes.get(model._meta.app_label, DEFAULT_DB_ALIAS)
        if hints:
            db = self._same_home_copy(home, hints, write=True)
            if db is not None:
                return db
        if home in self._replicated:
            pending = self._pins().writes.get(home)
            # A PostgreSQL primary already marked as written needs nothing more: its WAL
            # position is read at the next read. Elsewhere the marker's time is refreshed.
            if (
                pending is None
                or pending.lsn is not None
                or (
                    home not in self._lsn_primaries
                    and time.time() - pending.at >= pinning.NOTE_AGAIN_AFTER
                )
            ):
                pinning.note_write(home)
        return home

    def _same_home_copy(self, home: str, hints: dict[str, Any], write: bool) -> str | None:
        """Rows of one home live together: a relative of a row (``hints["instance"]``) loaded
        from another copy (``.using("archive")``, or a replica for reads) is on that copy.
        Writes never go to a replica or a read-only database."""
        instance = hints.get("instance")
        if instance is None:
            return None
        db = instance._state.db
        if (
            db is not None
            and db != home
            and (not write or db in self._primaries)
            and self._homes.get(instance._meta.app_label, DEFAULT_DB_ALIAS) == home
        ):
            return str(db)
        return None

    def _read_replicated(self, home: str) -> str:
        # Every read that db_for_read's fast path did not answer (first read in this thread,
        # pins, atomic blocks, several replicas, lag bounds).
        pins = self._pins()
        if pins.forced:
            return self._primary(home, "primary:use_primary")
        wrappers = self._wrappers.__dict__  # this thread's wrappers: connections[...] is slow
        wrapper = wrappers.get(home)
        if wrapper is None:
            wrapper = wrappers[home] = connections[home]
        if wrapper.in_atomic_block:
            return self._primary(home, "primary:atomic")
        write = pins.writes.get(home)
        after_lsn = None
        if write is not None:
            if home in self._lsn_primaries:
                after_lsn = write.lsn if write.lsn is not None else self._write_position(home)
            elif time.time() - write.at < self._pin_seconds:
                return self._primary(home, "primary:read_your_writes")
            else:
                pinning.set_write(home, None)
        return self._choose(home, after_lsn)

    def _choose(self, home: str, after_lsn: int | None) -> str:
        monitor = self._monitor
        assert monitor is not None
        replica = monitor.choose(home, after_lsn)
        if replica is None:
            reason = "primary:read_your_writes" if after_lsn else "primary:no_replica"
            return self._primary(home, reason)
        if after_lsn is not None and all(
            monitor.replayed(r.alias, home, after_lsn) for r in monitor.replicas[home]
        ):
            pinning.set_write(home, None)  # every replica has the write: the pin is done
        return replica

    def _write_position(self, home: str) -> int | None:
        lsn = primary_wal_lsn(home)
        pinning.set_write(home, pinning.Write(lsn, time.time()))
        return lsn

    def _primary(self, home: str, counter: str) -> str:
        self._counts[counter] += 1  # counted, not logged: a log call costs more than the read
        return home

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        """Same data, or a cross-database relation of the two models; else refused.

        ``True`` when both rows are on one database or on a primary and its replica. Rows on
        two databases are related only by a relation that crosses databases by design: the two
        models have different homes, each row is on its model's home (or a replica of it), and
        a row on a copy of its home (``copy_of``) holds the relation while the other row is on
        its home, since a ForeignKey followed from a copy reads the other model's home. Anything
        else (a row of the same home on another copy, a row on a database that holds no copy of
        its tables) is refused, and Django raises "the current database router prevents this
        relation", as it does without routers for any two databases.
        """
        db1, db2 = obj1._state.db, obj2._state.db
        if db1 is None or db2 is None:
            return None  # unsaved: Django's own answer (the same database, or not)
        if db1 == db2 or self._primary_of.get(db1, db1) == self._primary_of.get(db2, db2):
            return True
        return self._cross_relations and self._declared_crossing(obj1, db1, obj2, db2)

    def _declared_crossing(self, obj1: Model, db1: str, obj2: Model, db2: str) -> bool:
        home1 = self._homes.get(obj1._meta.app_label, DEFAULT_DB_ALIAS)
        home2 = self._homes.get(obj2._meta.app_label, DEFAULT_DB_ALIAS)
        if home1 == home2:
            return False  # one home's rows on two databases: the pk names another row there
        on_copy1 = self._on_copy(db1, home1)
        on_copy2 = self._on_copy(db2, home2)
        if on_copy1 is None or on_copy2 is None:
            return False
        if not on_copy1 and not on_copy2:
            return True
        if on_copy1 and on_copy2:
            return False  # the relation would be read from the other model's home, not its copy
        holder, target = (type(obj1), type(obj2)) if on_copy1 else (type(obj2), type(obj1))
        return self._points_to(holder, target) and not self._points_to(target, holder)

    def _on_copy(self, db: str, home: str) -> bool | None:
        """False: ``db`` is ``home`` or its replica; True: a copy of ``home``; None: neither."""
        primary = self._primary_of.get(db, db)
        if primary == home:
            return False
        if self._copy_of.get(primary) == home:
            return True
        return None

    def _points_to(self, holder: type[Model], target: type[Model]) -> bool:
        """Whether ``holder`` has a ForeignKey / OneToOneField that a ``target`` row can fill."""
        key = (holder, target)
        found = self._pointers.get(key)
        if found is None:
            targets = (
                field.related_model._meta.concrete_model
                for field in holder._meta.get_fields()
                if (field.many_to_one or field.one_to_one)
                and field.concrete
                and isinstance(field.related_model, type)
            )
            found = self._pointers[key] = any(
                concrete is not None and issubclass(target, concrete) for concrete in targets
            )
        return found

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool:
        """Tables go to the app's home primary, and to each copy (``copy_of``) of that home."""
        if db not in self._migration_targets:
            return False
        if app_label == "django_cfg" and model_name == "deleteintent":
            return True  # every database a delete may change holds its own intents
        home = self._homes.get(app_label, DEFAULT_DB_ALIAS)
        return home == db or home == self._copy_of.get(db)


_DIRECT_CALLS = ("db_for_read", "db_for_write")


def sole_router(routers: Any) -> bool:
    """Whether DATABASE_ROUTERS is exactly this package's router (not a subclass: a subclass
    may return None, and then Django's fallback must run)."""
    return list(routers) in ([ROUTER_PATH], [DatabaseRouter])


def route_directly(database_router: DatabaseRouter | None) -> None:
    """Make ``django.db.router`` call ``database_router`` without its loop (None: stop)."""
    from django.db import router

    for name in _DIRECT_CALLS:
        if database_router is None:
            router.__dict__.pop(name, None)
        else:
            setattr(router, name, getattr(database_router, name))
