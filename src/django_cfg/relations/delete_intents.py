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
deleted. ``relations.roll_forward`` rolls it forward (deleting is idempotent); nothing is ever
rolled back: a row already deleted on one database cannot be brought back.

``manage.py repair_relations`` runs the recovery; the ``django_cfg.W050`` check (run by
``migrate`` and ``check --database``) reports unfinished deletes. A shared row's delete also
records the tenant rows that reference it (parts on ``EVERY_TENANT``, ``shared_delete``); those
are finished automatically too, by the next such delete of any process
(``roll_forward.finish_abandoned_sweeps``).
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
from typing import Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, transaction
from django.db.models.deletion import Collector
from django.utils import timezone

from django_cfg.relations.shared_delete import EVERY_TENANT, TenantReference
from django_cfg.runtime.runtime import current_runtime

__all__ = [
    "DeleteIntentTableMissing",
    "PendingDelete",
    "RecordedDelete",
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
    topology = current_runtime().topology
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


def recorded_elsewhere(collector: Collector) -> bool:
    """Whether ``collector`` deletes rows of a delete that another collector recorded."""
    return id(collector) in _recording.get()


def record_delete(
    collector: Collector,
    foreign: Sequence[Collector],
    databases: Sequence[str],
    tenant_references: Sequence[TenantReference] = (),
) -> RecordedDelete:
    """Write the intent of ``collector``'s delete on each of ``databases`` that takes migrations.

    ``foreign``: the collectors ``collector`` handed rows on other databases to. Called inside
    the transaction of every database in ``databases``, before any row changes.
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
