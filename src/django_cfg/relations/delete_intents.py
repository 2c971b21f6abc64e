"""Cross-database deletes that a crash cannot leave half-done unnoticed.

A delete that changes several databases commits one transaction per database; no engine lets a
transaction span them. The protocol (docs/cross-database-relations.md, "Crash safety"):

1. Inside each database's transaction, before any row changes, the delete writes its *intent*:
   one ``DeleteIntent`` row per (database, model) of the objects it deletes, on every database
   it changes. All copies share a random ``token``. Whichever transaction commits first, the
   intent commits with it, so a committed change anywhere always has an intent beside it.
2. It runs the per-database deletes and updates as before (``CrossDatabaseCollector.delete``).
3. Once every database has committed (at once, or in ``transaction.on_commit`` of the databases
   that are inside an outer ``atomic`` block), it removes the intent rows.

An intent row that is still there after its delete is gone (a crash, a lost connection, an outer
transaction rolled back after another database committed) names the objects that were being
deleted. ``finish_pending_delete`` rolls it forward, since deleting is idempotent: objects still
there are deleted again with the collector (``on_delete`` runs on every database once more),
and for objects already gone, every row that still references them across databases gets its
field's ``on_delete`` (``orphans.repair_references``). Then the intent is removed. Nothing is
ever rolled back: a row already deleted on one database cannot be brought back.

``manage.py repair_relations`` runs the recovery; the ``django_cfg.W050`` check (run by
``migrate`` and ``check --database``) reports unfinished deletes. A shared row's delete also
records the tenant rows that reference it (parts on ``EVERY_TENANT``, ``shared_delete``); those
are finished automatically too, by the next such delete of any process
(``finish_abandoned_sweeps``).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from django_cfg.relations.shared_delete import EVERY_TENANT, TenantReference, sweep_every_tenant
from django_cfg.routing.runtime import current_runtime
from django_cfg.routing.topology import get_topology
from django_cfg.tenants.registry import tenant_of_alias

if TYPE_CHECKING:
    from django_cfg.relations.crossing import CrossDatabaseCollector

__all__ = [
    "DeleteIntentTableMissing",
    "PendingDelete",
    "RecordedDelete",
    "finish_pending_delete",
    "intent_databases",
    "pending_deletes",
    "record_delete",
]

logger = logging.getLogger("django_cfg.deletes")

# While a cross-database delete runs in this context: the collectors it handed rows to (their
# delete() runs inside it and records nothing more). Any other delete (a signal receiver's)
# records its own intent.
_recording: ContextVar[frozenset[int]] = ContextVar(
    "django_cfg_delete_recording", default=frozenset()
)

# While finish_abandoned_sweeps runs in this context (the deletes it runs do not start it again).
_finishing: ContextVar[bool] = ContextVar("django_cfg_finishing_sweeps", default=False)


class DeleteIntentTableMissing(ImproperlyConfigured):
    """A database a cross-database delete would change has no ``django_cfg_deleteintent``."""


def _intent_model() -> Any:
    return apps.get_model("django_cfg", "DeleteIntent")


def _has_table(alias: str) -> bool:
    table = _intent_model()._meta.db_table
    connection = connections[alias]
    key = (alias, str(connection.settings_dict.get("NAME")))
    # Aliases known to hold the table (checked once per runtime; a missing table is checked
    # again at every delete, so migrating fixes it without a restart).
    seen = current_runtime().intent_tables
    if key in seen:
        return True
    if (
        connection.vendor == "sqlite"
        and not connection.is_in_memory_db()  # type: ignore[attr-defined]
        and not Path(str(connection.settings_dict["NAME"])).exists()
    ):
        return False  # connecting would create the file: no file, no table
    with connection.cursor() as cursor:
        present = table in connection.introspection.table_names(cursor)
    if present:
        seen.add(key)
    return present


def intent_databases(aliases: Iterable[str] | None = None) -> list[str]:
    """The aliases (of ``aliases``, default all) that hold intents: those taking migrations."""
    topology = get_topology()
    chosen = topology.aliases if aliases is None else aliases
    return [alias for alias in dict.fromkeys(chosen) if topology.takes_migrations(alias)]


def _encode(pk: Any) -> Any:
    return pk if isinstance(pk, int) else str(pk)


@dataclass
class RecordedDelete:
    """The intent of one running cross-database delete (``record_delete`` makes it)."""

    token: str
    databases: list[str]  # every database the delete changes
    stores: list[str]  # those holding a copy of the intent
    active: bool = True
    _reset: Any = None
    before_removal: Callable[[], None] | None = None
    """Runs once every database committed, before the intent is removed (a shared delete:
    ``shared_delete.sweep_every_tenant``); if it raises, the intent stays."""

    def close(self) -> None:
        """Leave the recording context (whatever happened)."""
        if self._reset is not None:
            _recording.reset(self._reset)
            self._reset = None

    def finish(self) -> None:
        """After the delete: remove the intent once every database has committed."""
        if not self.active:
            return
        waiting = {db for db in self.databases if connections[db].in_atomic_block}
        if not waiting:
            self._remove()
            return

        def committed(db: str) -> None:
            waiting.discard(db)
            if not waiting:
                self._remove()

        for db in sorted(waiting):
            transaction.on_commit(lambda db=db: committed(db), using=db)  # type: ignore[misc]

    def _remove(self) -> None:
        if self.before_removal is not None:
            self.before_removal()
        remove_intent(self.token, self.stores)


def remove_intent(token: str, stores: Sequence[str]) -> None:
    """Delete the intent rows of ``token`` on ``stores`` (a failure leaves them: harmless)."""
    model = _intent_model()
    for db in stores:
        try:
            with transaction.atomic(using=db):  # inside someone's transaction: a savepoint
                model._base_manager.using(db).filter(token=token)._raw_delete(db)
        except DatabaseError as error:
            logger.warning(
                "Could not remove the record of finished cross-database delete %s on %r (%s); "
                "'manage.py repair_relations' will find it finished and remove it.",
                token,
                db,
                error,
            )


def recorded_elsewhere(collector: CrossDatabaseCollector) -> bool:
    """Whether ``collector`` deletes rows of a delete that another collector recorded."""
    return id(collector) in _recording.get()


def record_delete(
    collector: CrossDatabaseCollector,
    databases: Sequence[str],
    tenant_references: Sequence[TenantReference] = (),
) -> RecordedDelete:
    """Write the intent of ``collector``'s delete on each of ``databases`` that takes migrations.

    Called inside the transaction of every database in ``databases``, before any row changes.
    The collectors a recorded delete handed rows to record nothing: their rows are in its intent.
    ``tenant_references`` (tenant rows referencing the deleted shared rows) are recorded as
    parts on ``EVERY_TENANT``: their ``on_delete`` is applied in every tenant once committed.
    """
    if recorded_elsewhere(collector):
        return RecordedDelete("", [], [], active=False)
    stores = intent_databases(databases)
    missing = [db for db in stores if not _has_table(db)]
    model = _intent_model()
    if missing:
        raise DeleteIntentTableMissing(
            f"This delete changes databases {', '.join(map(repr, databases))}; "
            f"{', '.join(map(repr, missing))} "
            f"{'has' if len(missing) == 1 else 'have'} no table {model._meta.db_table}, "
            "where a cross-database delete records what it deletes so that a crash cannot "
            "leave it half-done unnoticed. Run 'manage.py migrate_all' (it applies migration "
            "django_cfg.0001_delete_intents on every database)."
        )
    token = uuid.uuid4().hex
    now = timezone.now()
    foreign = collector._foreign_collectors()
    parts = [
        (part.using, label, [_encode(obj.pk) for obj in instances])
        for part in (collector, *foreign)
        for label, instances in sorted(
            (m._meta.label, objs) for m, objs in part.data.items() if objs
        )
    ]
    parts += [
        (EVERY_TENANT, reference.label, [_encode(value) for value in reference.values])
        for reference in tenant_references
    ]
    for db in stores:
        model._base_manager.using(db).bulk_create(
            [
                model(token=token, database=where, model=label, pks=json.dumps(pks), created=now)
                for where, label, pks in parts
            ]
        )
    recorded = RecordedDelete(token, list(databases), stores)
    recorded._reset = _recording.set(_recording.get() | {id(c) for c in foreign})
    return recorded


# Recovery -------------------------------------------------------------------------------------


@dataclass
class PendingDelete:
    """A delete whose intent is still recorded: crashed, or (rarely) still committing."""

    token: str
    created: datetime
    found_on: list[str]
    parts: list[tuple[str, str, list[Any]]] = field(default_factory=list)  # (db, model, pks)

    def describe(self) -> str:
        what = ", ".join(f"{len(pks)} {label} on {db!r}" for db, label, pks in self.parts)
        return f"delete {self.token} started {self.created:%Y-%m-%d %H:%M:%S} UTC: {what}"


def pending_deletes(
    aliases: Iterable[str] | None = None, older_than: timedelta | None = None
) -> list[PendingDelete]:
    """Unfinished deletes recorded on ``aliases`` (default: every database holding intents)."""
    model = _intent_model()
    found: dict[str, PendingDelete] = {}
    for db in intent_databases(aliases):
        if not _has_table(db):
            continue
        rows = model._base_manager.using(db).order_by("id")
        if older_than is not None:
            rows = rows.filter(created__lte=timezone.now() - older_than)
        by_token: dict[str, list[Any]] = {}
        for row in rows.iterator():
            by_token.setdefault(row.token, []).append(row)
        for token, token_rows in by_token.items():
            if token in found:
                found[token].found_on.append(db)
                continue
            found[token] = PendingDelete(
                token,
                token_rows[0].created,
                [db],
                [(r.database, r.model, json.loads(r.pks)) for r in token_rows],
            )
    return list(found.values())


@dataclass
class FinishedDelete:
    """What finishing a pending delete did."""

    pending: PendingDelete
    deleted: dict[str, int] = field(default_factory=dict)
    repaired: dict[str, int] = field(default_factory=dict)
    left: list[str] = field(default_factory=list)  # references that could not be repaired


def finish_pending_delete(pending: PendingDelete) -> FinishedDelete:
    """Roll a pending delete forward, then remove its intent (everywhere it was recorded).

    Raises (and keeps the intent) when the delete cannot finish: a model that no longer exists,
    a database that cannot be reached, or a PROTECT/RESTRICT reference added since.
    """
    from django_cfg.relations.crossing import CrossDatabaseCollector
    from django_cfg.relations.orphans import repair_references

    result = FinishedDelete(pending)
    references = [
        _tenant_reference(pending, label, values)
        for db, label, values in pending.parts
        if db == EVERY_TENANT
    ]
    for db, label, encoded in pending.parts:
        if db == EVERY_TENANT:
            continue
        try:
            model: Any = apps.get_model(label)
        except LookupError as error:
            raise ImproperlyConfigured(
                f"Unfinished {pending.describe()}: model {label!r} is not installed any more; "
                "finish it by hand, then delete its rows from django_cfg_deleteintent "
                f"(token {pending.token!r})."
            ) from error
        pks = [model._meta.pk.to_python(value) for value in encoded]
        alive: set[Any] = set()
        for start in range(0, len(pks), 1000):
            batch = model._base_manager.using(db).filter(pk__in=pks[start : start + 1000])
            alive.update(batch.values_list("pk", flat=True))
        if alive:
            still_there = model._base_manager.using(db).filter(pk__in=sorted(alive))
            collector = CrossDatabaseCollector(using=db, origin=still_there)
            collector.collect(still_there)
            for name, count in collector.delete()[1].items():
                result.deleted[name] = result.deleted.get(name, 0) + count
        gone = [pk for pk in pks if pk not in alive]
        if gone:
            repair = repair_references(model, gone)
            for name, count in repair.changed.items():
                result.repaired[name] = result.repaired.get(name, 0) + count
            result.left += repair.left
    if references:  # after the shared rows: a still-alive one's delete sweeps on its own
        swept = sweep_every_tenant(references, lambda alias: CrossDatabaseCollector(using=alias))
        for name, count in swept.items():
            result.deleted[name] = result.deleted.get(name, 0) + count
    remove_intent(pending.token, pending.found_on)  # copies elsewhere: found there later
    return result


def _tenant_reference(pending: PendingDelete, label: str, values: list[Any]) -> TenantReference:
    """The ``EVERY_TENANT`` part ``label`` (``notes.Note.author``) of ``pending``."""
    model_label, _, name = label.rpartition(".")
    try:
        field: Any = apps.get_model(model_label)._meta.get_field(name)
    except LookupError as error:  # FieldDoesNotExist is a LookupError too
        raise ImproperlyConfigured(
            f"Unfinished {pending.describe()}: {label!r} is not a field any more; apply its "
            "old on_delete in each tenant by hand, then delete its rows from "
            f"django_cfg_deleteintent (token {pending.token!r})."
        ) from error
    return TenantReference(field, tuple(field.target_field.to_python(v) for v in values))


SWEEPS_PER_DELETE = 2
"""How many unfinished sweeps a shared delete finishes before its own (oldest first): a tenant
that refuses writes for long (a killed move) makes intents pile up; each delete's extra cost
stays bounded, and ``migrate_all`` finishes them all."""


def finish_abandoned_sweeps(limit: int | None = None) -> int:
    """Finish the shared deletes whose tenant sweep did not end (a crash, a tenant that could
    not be changed): run by every delete of a shared row that tenants reference, before its own,
    and by ``migrate_all`` after it migrated every database (each deploy); how many it finished
    (at most ``limit`` tried, oldest first).

    An intent with ``EVERY_TENANT`` parts is visible only once its shared rows' deletion
    committed, so finishing it is always right; a sweep that is still running elsewhere is
    merely done twice (applying ``on_delete`` again changes nothing). A failure is logged and
    the intent kept for the next time."""
    if _finishing.get():
        return 0  # a delete that finishing one runs: not again, from inside
    shared = [alias for alias in intent_databases() if tenant_of_alias(alias) is None]
    reset = _finishing.set(True)
    finished = 0
    try:
        sweeps = [
            pending
            for pending in pending_deletes(shared)
            if any(db == EVERY_TENANT for db, _label, _values in pending.parts)
        ]
        for pending in sweeps[:limit]:
            try:
                finish_pending_delete(pending)
                finished += 1
            except Exception as error:  # the new delete goes on; the intent stays
                logger.warning("Could not finish %s yet: %s", pending.describe(), error)
    finally:
        _finishing.reset(reset)
    return finished
