"""Deletes across databases that a crash interrupted, rolled forward.

    finish_pending_delete(pending, CrossDatabaseCollector)   # manage.py repair_relations
    finish_abandoned_sweeps(CrossDatabaseCollector)          # migrate_all, each shared delete

A delete's intent (``relations.delete_intents``) still there after its delete is gone names the
rows that were being deleted. Deleting is idempotent: rows still there are deleted again with the
collector (``on_delete`` runs on every database once more), and for rows already gone every row
that still references them across databases gets its field's ``on_delete``
(``orphans.repair_references``). Then the intent is removed. Nothing is ever rolled back.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db.models.deletion import Collector

from django_cfg.relations.delete_intents import (
    PendingDelete,
    intent_databases,
    pending_deletes,
    remove_intent,
)
from django_cfg.relations.orphans import repair_references
from django_cfg.relations.shared_delete import EVERY_TENANT, TenantReference, sweep_every_tenant
from django_cfg.settings.tenant_names import tenant_of_alias

__all__ = [
    "SWEEPS_PER_DELETE",
    "FinishedDelete",
    "finish_abandoned_sweeps",
    "finish_pending_delete",
]

logger = logging.getLogger("django_cfg.deletes")

# While finish_abandoned_sweeps runs in this context (the deletes it runs do not start it again).
_finishing: ContextVar[bool] = ContextVar("django_cfg_finishing_sweeps", default=False)


@dataclass
class FinishedDelete:
    """What finishing a pending delete did."""

    pending: PendingDelete
    deleted: dict[str, int] = field(default_factory=dict)
    repaired: dict[str, int] = field(default_factory=dict)
    left: list[str] = field(default_factory=list)  # references that could not be repaired


def finish_pending_delete(pending: PendingDelete, collector: type[Collector]) -> FinishedDelete:
    """Roll a pending delete forward with ``collector`` (``CrossDatabaseCollector``), then
    remove its intent (everywhere it was recorded).

    Raises (and keeps the intent) when the delete cannot finish: a model that no longer exists,
    a database that cannot be reached, or a PROTECT/RESTRICT reference added since.
    """
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
            deleting = collector(using=db, origin=still_there)
            deleting.collect(still_there)
            for name, count in deleting.delete()[1].items():
                result.deleted[name] = result.deleted.get(name, 0) + count
        gone = [pk for pk in pks if pk not in alive]
        if gone:
            repair = repair_references(model, gone, collector)
            for name, count in repair.changed.items():
                result.repaired[name] = result.repaired.get(name, 0) + count
            result.left += repair.left
    if references:  # after the shared rows: a still-alive one's delete sweeps on its own
        swept = sweep_every_tenant(references, lambda alias: collector(using=alias))
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


def finish_abandoned_sweeps(collector: type[Collector], limit: int | None = None) -> int:
    """Finish the shared deletes whose tenant sweep did not end (a crash, a tenant that could
    not be changed): run by every delete of a shared row that tenants reference, before its own,
    and by ``migrate_all`` after it migrated every database (each deploy); how many it finished
    (at most ``limit`` tried, oldest first).

    An intent with ``EVERY_TENANT`` parts is visible only once its shared rows' deletion
    committed, so finishing it is always right; a sweep that is still running elsewhere is
    merely done twice (applying ``on_delete`` again changes nothing). A failure is logged and
    the intent kept for the next time. ``collector``: ``CrossDatabaseCollector``."""
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
                finish_pending_delete(pending, collector)
                finished += 1
            except Exception as error:  # the new delete goes on; the intent stays
                logger.warning("Could not finish %s yet: %s", pending.describe(), error)
    finally:
        _finishing.reset(reset)
    return finished
