"""The Django router that sends each app's models to their home database, and reads to replicas.

``DjangoConfig`` installs it (after the user's own ``database_routers``) whenever more than one
database is configured; with hand-written settings, add it yourself:

    DATABASE_ROUTERS = ["django_cfg.routing.router.DatabaseRouter"]
    DATABASE_ROUTING_RULES = {"blog": "blog_db", "shop": "shop_db"}

An ordinary Django router: Django's ``ConnectionRouter`` builds it and calls it in its loop,
after the routers in front of it. Building it changes nothing; it answers from the database
runtime (``django_cfg.runtime.runtime``): plain dicts compiled once per topology, re-fetched
when the runtime is rebuilt (a routing setting changed, a database was added or removed).
Reads of a primary that has replicas go to a replica (docs/replicas.md) unless the model's app is
one that always reads its primary (``ReplicaOptions.primary_reads``: auth and sessions by
default), the code is in ``use_primary()``, in ``transaction.atomic()`` on that primary, or this
context wrote to it and no replica has that write yet.
"""

from __future__ import annotations

import time
from time import time as _wall_clock
from types import SimpleNamespace
from typing import Any, cast

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

from django_cfg.runtime.runtime import DatabaseRuntime, ReadPlan, current_runtime
from django_cfg.state.pins import EMPTY, Write, current_pins, set_write
from django_cfg.state.topology import Topology

__all__ = ["DatabaseRouter"]

_NOT_YET = cast(DatabaseRuntime, SimpleNamespace(retired=True))
"""Stands for the runtime until the first call fetches it (a constructor does nothing)."""


class DatabaseRouter:
    """Home database per app label; replicas for reads; no writes or tables on replicas."""

    def __init__(self, runtime: DatabaseRuntime | Topology | None = None) -> None:
        """Django builds it without arguments: it follows ``current_runtime()``. Tests may
        pass a ``DatabaseRuntime`` or a ``Topology`` to route by, which it keeps."""
        if isinstance(runtime, Topology):
            runtime = DatabaseRuntime(runtime)
        self._follows = runtime is None
        self._runtime = runtime if runtime is not None else _NOT_YET
        # Django's router loop looks the method up on every query (``getattr(router, action)``):
        # bound once here instead of a bound method built per query (~250 instructions a call).
        self.db_for_read = self.db_for_read  # type: ignore[method-assign]
        self.db_for_write = self.db_for_write  # type: ignore[method-assign]

    def _current(self) -> DatabaseRuntime:
        """The runtime to answer from: the current one, once the one held was replaced."""
        if self._follows:
            self._runtime = current_runtime()
        return self._runtime

    def db_for_read(self, model: type[Model], instance: Model | None = None, **hints: Any) -> str:
        # ``instance``, the one hint Django passes, is a parameter: a hint in ``**hints`` costs
        # a dict entry and a lookup per call (~800 instructions per save()).
        runtime = self._runtime
        if runtime.retired:
            runtime = self._current()
        try:  # one lookup per read: the model's home, and whether and how replicas serve it
            home, replicas = runtime.read_plans[model]
        except (KeyError, TypeError):  # a model's first read (or a stand-in, not hashable)
            home, replicas = _read_plan(runtime, model)
        if instance is not None:
            db = self._same_home_copy(runtime, home, instance, write=False)
            if db is not None:
                return db
        if replicas is None:
            return home
        # Replicated data. Inlined, as this runs on every such read: a thread's first read, an
        # atomic block, use_primary(), write markers and several replicas take read_replicated.
        if replicas:  # one replica taking every read, no lag bound
            wrapper = runtime.wrappers.__dict__.get(home)
            if wrapper is not None and not wrapper.in_atomic_block and current_pins() is EMPTY:
                alias, health = replicas
                if not health.retry_at or health.retry_at <= time.monotonic():
                    return alias
        return self.read_replicated(runtime, home)

    def db_for_write(self, model: type[Model], instance: Model | None = None, **hints: Any) -> str:
        runtime = self._runtime
        if runtime.retired:
            runtime = self._current()
        try:  # one lookup per write: the model's home, and whether and how a write marks it
            home, by_position = runtime.write_plans[model]
        except (KeyError, TypeError):  # a model's first write (or a stand-in, not hashable)
            home, by_position = _write_plan(runtime, model)
        if instance is not None:  # save() passes instance=: a row of this home loaded from it
            db = instance._state.db  # (or a new row: None) stays here
            if db != home and db is not None:
                db = self._same_home_copy(runtime, home, instance, write=True)
                if db is not None:
                    return db
        if by_position is None:
            return home  # no replicas: no read waits for this write
        # A primary with replicas: reads after this write see it. PinPolicy.note_write's
        # "nothing to do" case, inlined: a marker already waits for this primary's WAL
        # position, or a time marker was set within note_again_after.
        try:
            pending = current_pins().writes[home]
        except KeyError:  # this context's first write to home since its reads were unpinned
            runtime.pins.note_write(home, by_position)
            return home
        if pending.lsn is not None or not (
            by_position or _wall_clock() - pending.at < runtime.pins.note_again_after
        ):
            runtime.pins.note_write(home, by_position)
        return home

    @staticmethod
    def _same_home_copy(
        runtime: DatabaseRuntime, home: str, instance: Model, write: bool
    ) -> str | None:
        """Rows of one home live together: a relative of a row (the ``instance`` hint) loaded
        from another copy (``.using("archive")``, or a replica for reads) is on that copy.
        Writes never go to a replica or a read-only database."""
        db = instance._state.db
        if (
            db is not None
            and db != home
            and (not write or db in runtime.primaries)
            and runtime.homes.get(instance._meta.app_label, DEFAULT_DB_ALIAS) == home
        ):
            return str(db)
        return None

    def read_replicated(self, runtime: DatabaseRuntime, home: str) -> str:
        """The alias one read of primary ``home``'s data goes to (``home`` has replicas): a
        replica, or ``home`` itself for ``use_primary()``, an atomic block, read-your-writes,
        lag bounds and weights. The tenant router asks it for a tenant's database."""
        # Also every read that db_for_read's fast path did not answer (first read in this
        # thread, pins, atomic blocks, several replicas, lag bounds).
        pins = current_pins()
        counts = runtime.counts  # counted, not logged: a log call costs more than the read
        if pins.forced:
            counts["primary:use_primary"] += 1
            return home
        wrappers = runtime.wrappers.__dict__  # this thread's wrappers: connections[] is slow
        wrapper = wrappers.get(home)
        if wrapper is None:
            wrapper = wrappers[home] = connections[home]
        if wrapper.in_atomic_block:
            counts["primary:atomic"] += 1
            return home
        write = pins.writes.get(home)
        after_lsn = None
        if write is not None:
            if home in runtime.lsn_primaries:
                after_lsn = (
                    write.lsn if write.lsn is not None else self._write_position(runtime, home)
                )
            elif runtime.pins.within_window(write) and not _primary_down(runtime, home):
                counts["primary:read_your_writes"] += 1
                return home
            else:
                set_write(home, None)
        return self._choose(runtime, home, after_lsn, wrapper)

    @staticmethod
    def _choose(runtime: DatabaseRuntime, home: str, after_lsn: int | None, wrapper: Any) -> str:
        monitor = runtime.monitor
        assert monitor is not None
        replica = monitor.choose(home, after_lsn)
        if replica is None and not monitor.reachable(home, wrapper):
            replica = monitor.choose(home, after_lsn)  # the primary's breaker is open now
        if replica is None:
            runtime.counts["primary:read_your_writes" if after_lsn else "primary:no_replica"] += 1
            return home
        if after_lsn is not None and all(
            monitor.replayed(r.alias, home, after_lsn) for r in monitor.replicas[home]
        ):
            set_write(home, None)  # every replica has the write: the pin is done
        return replica

    @staticmethod
    def _write_position(runtime: DatabaseRuntime, home: str) -> int | None:
        assert runtime.monitor is not None
        lsn = runtime.monitor.pin_position(home)  # None: the primary cannot answer
        set_write(home, None if lsn is None else Write(lsn, time.time()))
        return lsn

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
        runtime = self._runtime if not self._runtime.retired else self._current()
        primary_of = runtime.primary_of
        if db1 == db2 or primary_of.get(db1, db1) == primary_of.get(db2, db2):
            return True
        return runtime.topology.cross_database_relations and self._declared_crossing(
            runtime, obj1, db1, obj2, db2
        )

    def _declared_crossing(
        self, runtime: DatabaseRuntime, obj1: Model, db1: str, obj2: Model, db2: str
    ) -> bool:
        home1 = runtime.homes.get(obj1._meta.app_label, DEFAULT_DB_ALIAS)
        home2 = runtime.homes.get(obj2._meta.app_label, DEFAULT_DB_ALIAS)
        if home1 == home2:
            return False  # one home's rows on two databases: the pk names another row there
        on_copy1 = _on_copy(runtime, db1, home1)
        on_copy2 = _on_copy(runtime, db2, home2)
        if on_copy1 is None or on_copy2 is None:
            return False
        if not on_copy1 and not on_copy2:
            return True
        if on_copy1 and on_copy2:
            return False  # the relation would be read from the other model's home, not its copy
        holder, target = (type(obj1), type(obj2)) if on_copy1 else (type(obj2), type(obj1))
        pointers = runtime.pointers
        return _points_to(pointers, holder, target) and not _points_to(pointers, target, holder)

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool:
        """Tables go to the app's home primary, and to each copy (``copy_of``) of that home."""
        runtime = self._runtime if not self._runtime.retired else self._current()
        if db not in runtime.migration_targets:
            return False
        if app_label == "django_cfg" and model_name == "deleteintent":
            return True  # every database a delete may change holds its own intents
        home = runtime.homes.get(app_label, DEFAULT_DB_ALIAS)
        return home == db or home == runtime.copy_of.get(db)


def _primary_down(runtime: DatabaseRuntime, home: str) -> bool:
    return runtime.monitor is not None and runtime.monitor.primary_down(home)


def _read_plan(runtime: DatabaseRuntime, model: type[Model]) -> ReadPlan:
    """``model``'s home and its replicas for reads (``ReadPlan``: none for a model that always
    reads its primary), remembered per model class for the next read."""
    home = runtime.homes.get(model._meta.app_label, DEFAULT_DB_ALIAS)
    replicated = home in runtime.replicated and not runtime.reads_primary(model)
    replicas = (runtime.single_replicas.get(home) or ()) if replicated else None
    plan = home, replicas
    if isinstance(model, type):  # not a test's stand-in (unhashable): looked up each time
        runtime.read_plans[model] = plan
    return plan


def _write_plan(runtime: DatabaseRuntime, model: type[Model]) -> tuple[str, bool | None]:
    """``model``'s home and how a write to it marks reads (``DatabaseRuntime.write_marks``:
    None for a home without replicas), remembered per model class for the next write."""
    home = runtime.homes.get(model._meta.app_label, DEFAULT_DB_ALIAS)
    plan = home, runtime.write_marks.get(home)
    if isinstance(model, type):  # not a test's stand-in (unhashable): looked up each time
        runtime.write_plans[model] = plan
    return plan


def _on_copy(runtime: DatabaseRuntime, db: str, home: str) -> bool | None:
    """False: ``db`` is ``home`` or its replica; True: a copy of ``home``; None: neither."""
    primary = runtime.primary_of.get(db, db)
    if primary == home:
        return False
    if runtime.copy_of.get(primary) == home:
        return True
    return None


def _points_to(
    pointers: dict[tuple[type[Model], type[Model]], bool],
    holder: type[Model],
    target: type[Model],
) -> bool:
    """Whether ``holder`` has a ForeignKey / OneToOneField that a ``target`` row can fill."""
    key = (holder, target)
    found = pointers.get(key)
    if found is None:
        targets = (
            field.related_model._meta.concrete_model
            for field in holder._meta.get_fields()
            if (field.many_to_one or field.one_to_one)
            and field.concrete
            and isinstance(field.related_model, type)
        )
        found = pointers[key] = any(
            concrete is not None and issubclass(target, concrete) for concrete in targets
        )
    return found
