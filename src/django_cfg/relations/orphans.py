"""Orphans of cross-database ForeignKeys: rows whose value names a row that does not exist.

No database constraint guards a ForeignKey to another database, so a row can name a target that
is gone: a crash during a delete (``delete_intents`` finishes those), a row inserted for a target
while it was being deleted (the race no lock across databases prevents), raw SQL, a restore of
one database from an older backup. This module finds them and applies the field's ``on_delete``:

    for batch in find_orphans(relation):      # batched: 2 queries per batch of distinct values
        repair_orphans(batch)                 # CASCADE deletes, SET_NULL/SET_DEFAULT/SET update

PROTECT, RESTRICT and DO_NOTHING rows are reported and left: PROTECT and RESTRICT say the target
should never have been deleted while the row referenced it, so only a person can say whether to
restore the target or change the row; DO_NOTHING asks for nothing to happen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.db.models.deletion import Collector, ProtectedError, RestrictedError

from django_cfg.relations.crossing import CrossDatabaseRelation, cross_database_relations
from django_cfg.state.topology import TENANT_HOME

__all__ = [
    "OrphanBatch",
    "Repair",
    "find_orphans",
    "on_delete_action",
    "on_delete_of",
    "repair_orphans",
    "repair_references",
]

DEFAULT_BATCH_SIZE = 1000

_LEFT: dict[Any, str] = {
    models.PROTECT: "PROTECT: the target should not have been deleted while this row referenced "
    "it; restore the target or change or delete the row yourself",
    models.RESTRICT: "RESTRICT: the target should not have been deleted while this row "
    "referenced it; restore the target or change or delete the row yourself",
    models.DO_NOTHING: "DO_NOTHING: the field asks for nothing to happen; the row keeps its value",
}


def on_delete_of(relation: CrossDatabaseRelation) -> Any:
    """The field's ``on_delete`` (``models.CASCADE``, ...)."""
    return getattr(relation.field.remote_field, "on_delete", None)


def on_delete_action(relation: CrossDatabaseRelation) -> str:
    """What repairing an orphan of ``relation`` does: delete, set null, set default, set, leave."""
    on_delete = on_delete_of(relation)
    if on_delete is models.CASCADE:
        return "delete"
    if on_delete is models.SET_NULL:
        return "set null"
    if on_delete is models.SET_DEFAULT:
        return "set default"
    if hasattr(on_delete, "deconstruct"):  # SET(value) or SET(callable)
        return "set"
    return "leave"


def why_left(relation: CrossDatabaseRelation) -> str:
    """Why the orphans of ``relation`` are left as they are."""
    on_delete = on_delete_of(relation)
    return _LEFT.get(
        on_delete,
        f"on_delete={getattr(on_delete, '__name__', on_delete)!s} is not one this command applies",
    )


@dataclass
class OrphanBatch:
    """Rows of ``relation.field.model`` whose value names no row of the target."""

    relation: CrossDatabaseRelation
    rows: list[tuple[Any, Any]]  # (pk, the missing target value)


@dataclass
class Repair:
    """What a repair changed (rows per model label) and what it left, with why."""

    changed: Counter[str] = field(default_factory=Counter)
    left: list[str] = field(default_factory=list)

    def add(self, other: Repair) -> None:
        self.changed.update(other.changed)
        self.left += other.left


def _target(relation: CrossDatabaseRelation) -> tuple[Any, str]:
    target_field = relation.field.target_field  # type: ignore[attr-defined]
    return target_field.model._base_manager.using(relation.target_database), target_field.attname


def _existing(relation: CrossDatabaseRelation, values: Sequence[Any]) -> set[Any]:
    targets, attname = _target(relation)
    return set(targets.filter(**{f"{attname}__in": values}).values_list(attname, flat=True))


def _rows(relation: CrossDatabaseRelation) -> Any:
    return relation.field.model._base_manager.using(relation.database)


def find_orphans(
    relation: CrossDatabaseRelation, batch_size: int = DEFAULT_BATCH_SIZE
) -> Iterator[OrphanBatch]:
    """The orphans of ``relation``, in batches of at most ``batch_size`` rows.

    Walks the distinct non-null values of the field in order (an index scan: Django indexes
    ForeignKeys), ``batch_size`` at a time, and asks the target's database which exist: two
    queries per batch of values, plus one per batch of orphan rows.
    """
    attname = relation.field.attname
    values_query = _rows(relation).filter(**{f"{attname}__isnull": False}).order_by(attname)
    last: Any = None
    while True:
        page = values_query if last is None else values_query.filter(**{f"{attname}__gt": last})
        values = list(page.values_list(attname, flat=True).distinct()[:batch_size])
        if not values:
            return
        last = values[-1]
        existing = _existing(relation, values)
        missing = [value for value in values if value not in existing]
        if missing:
            yield from _orphan_rows(relation, missing, batch_size)
        if len(values) < batch_size:
            return


def _orphan_rows(
    relation: CrossDatabaseRelation, missing: Sequence[Any], batch_size: int
) -> Iterator[OrphanBatch]:
    attname = relation.field.attname
    rows = _rows(relation).filter(**{f"{attname}__in": missing}).order_by("pk")
    last_pk: Any = None
    while True:
        page = rows if last_pk is None else rows.filter(pk__gt=last_pk)
        found = list(page.values_list("pk", attname)[:batch_size])
        if not found:
            return
        last_pk = found[-1][0]
        yield OrphanBatch(relation, found)
        if len(found) < batch_size:
            return


def repair_orphans(batch: OrphanBatch, collector: type[Collector]) -> Repair:
    """Apply the field's ``on_delete`` to the rows of ``batch`` that are still orphans, with
    ``collector`` (``CrossDatabaseCollector``)."""
    relation = batch.relation
    repair = Repair()
    values = list(dict.fromkeys(value for _pk, value in batch.rows))
    existing = _existing(relation, values)  # a target may have come back since they were found
    missing = [value for value in values if value not in existing]
    if not missing:
        return repair
    attname = relation.field.attname
    orphans = _rows(relation).filter(
        pk__in=[pk for pk, _value in batch.rows], **{f"{attname}__in": missing}
    )
    action = on_delete_action(relation)
    label = relation.field.model._meta.label
    if action == "leave":
        count = orphans.count()
        if count:
            repair.left.append(f"{relation.label}: {count} row(s) left ({why_left(relation)})")
        return repair
    deleting = collector(using=relation.database, origin=orphans)
    try:
        if action == "delete":
            deleting.collect(orphans)
        else:
            count = orphans.count()
            on_delete_of(relation)(deleting, relation.field, orphans, orphans.db)
            repair.changed[label] += count
        repair.changed.update(deleting.delete()[1])
    except (ProtectedError, RestrictedError) as error:
        repair.left.append(f"{relation.label}: could not {action} ({error.args[0]})")
    return repair


def repair_references(
    model: type[models.Model],
    pks: Sequence[Any],
    collector: type[Collector],
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Repair:
    """Apply ``on_delete`` to every row on another database that references a deleted ``pks``
    row of ``model`` (finishing a delete whose ``model`` rows are already gone), with
    ``collector`` (``CrossDatabaseCollector``)."""
    repair = Repair()
    concrete = model._meta.concrete_model
    for found in cross_database_relations():
        relation = _in_current_tenant(found)
        if relation is None:
            continue
        target: Any = relation.field.related_model
        if target._meta.concrete_model is not concrete:
            continue
        target_field: Any = relation.field.target_field  # type: ignore[attr-defined]
        if target_field.attname != model._meta.pk.attname:
            continue  # a to_field relation: find_orphans covers it
        for start in range(0, len(pks), batch_size):
            for batch in _orphan_rows(relation, pks[start : start + batch_size], batch_size):
                repair.add(repair_orphans(batch, collector))
    return repair


def _in_current_tenant(relation: CrossDatabaseRelation) -> CrossDatabaseRelation | None:
    """``relation`` with a tenant model's rows on the selected tenant's database; None for
    those with no tenant selected (``repair_relations`` scans each tenant's orphans itself)."""
    if relation.database != TENANT_HOME:
        return relation if relation.target_database != TENANT_HOME else None
    from django_cfg.tenants.context import current_tenant  # tenants only (issue 23)
    from django_cfg.tenants.router import tenant_database

    if current_tenant() is None:
        return None
    return relation._replace(database=tenant_database(relation.field.model))
