"""Copying a tenant's rows from one database to another, engine to engine, and checking the copy
(``manage.py move_tenant``).

    tables = tenant_models(["notes"], "tenant_acme")      # the tenant apps' models, FK order
    copy_rows(tables, "tenant_acme", "tenant_acme__move")  # primary keys kept, in batches
    [check for check in compare(tables, "tenant_acme", "tenant_acme__move") if not check.same]

Rows travel through the ORM (read with ``values_list``, written with Django's raw insert, the
one ``loaddata`` uses), so any pair of SQLite, PostgreSQL and MariaDB works and each value is
converted by the target's backend. The copy is one transaction on the target with constraint
checks deferred (checked at its end); PostgreSQL sequences are set past the copied keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.management.color import no_style
from django.db import connections, transaction
from django.db.models import Model

__all__ = ["TableCheck", "compare", "copy_rows", "tenant_models", "tenant_tables"]


def tenant_models(app_labels: Iterable[str], alias: str) -> list[type[Model]]:
    """The models whose tables a tenant database holds: the tenant apps' (many-to-many tables
    included) and the delete intents' if ``alias`` has that table, referenced before referring."""
    models = [
        model
        for label in app_labels
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    ]
    intents = apps.get_model("django_cfg", "DeleteIntent")
    if intents._meta.db_table in connections[alias].introspection.table_names():
        models.append(intents)
    return _dependency_order(models)


def tenant_tables(app_labels: Iterable[str], alias: str) -> list[str]:
    """The tables of ``tenant_models`` (what ``move_tenant`` fences)."""
    return [model._meta.db_table for model in tenant_models(app_labels, alias)]


def _dependency_order(models: list[type[Model]]) -> list[type[Model]]:
    """``models`` with each one after the models it references (cycles: in the given order)."""
    among = set(models)
    needs = {
        model: {
            field.related_model
            for field in model._meta.concrete_fields
            if field.is_relation
            and field.related_model in among
            and field.related_model is not model
        }
        for model in models
    }
    ordered: list[type[Model]] = []
    remaining = list(models)
    while remaining:
        ready = [model for model in remaining if needs[model] <= set(ordered)] or remaining[:1]
        ordered.extend(ready)
        remaining = [model for model in remaining if model not in ready]
    return ordered


def copy_rows(
    models: list[type[Model]],
    source: str,
    target: str,
    batch_size: int = 1000,
    progress: Callable[[type[Model], int], None] | None = None,
) -> dict[str, int]:
    """Copy every row of ``models`` from ``source`` to ``target`` (empty tables), keys kept;
    ``{table: rows copied}``. Nothing is left on ``target`` if it fails."""
    connection = connections[target]
    copied: dict[str, int] = {}
    with transaction.atomic(using=target), connection.constraint_checks_disabled():
        for model in models:
            copied[model._meta.db_table] = rows = _copy_table(model, source, target, batch_size)
            if progress is not None:
                progress(model, rows)
        connection.check_constraints(table_names=[model._meta.db_table for model in models])
        statements = connection.ops.sequence_reset_sql(no_style(), models)  # PostgreSQL only
        if statements:
            with connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
    return copied


def _copy_table(model: type[Model], source: str, target: str, batch_size: int) -> int:
    fields = [field for field in model._meta.concrete_fields if not field.generated]
    names = [field.attname for field in fields]
    ops = connections[target].ops
    limit = max(1, min(batch_size, ops.bulk_batch_size(fields, [None] * batch_size)))
    rows = (
        model._base_manager.using(source)
        .order_by("pk")
        .values_list(*names)
        .iterator(chunk_size=batch_size)
    )
    manager: Any = model._base_manager
    batch: list[Model] = []
    count = 0
    for values in rows:
        batch.append(model.from_db(source, names, values))
        if len(batch) >= limit:
            manager._insert(batch, fields=fields, using=target, raw=True)
            count += len(batch)
            batch = []
    if batch:
        manager._insert(batch, fields=fields, using=target, raw=True)
        count += len(batch)
    return count


@dataclass(frozen=True)
class TableCheck:
    """One table on both databases: its rows and a checksum of its primary keys."""

    table: str
    source_rows: int
    target_rows: int
    source_keys: int
    target_keys: int

    @property
    def same(self) -> bool:
        return (self.source_rows, self.source_keys) == (self.target_rows, self.target_keys)

    def describe(self) -> str:
        rows = f"{self.source_rows} row{'' if self.source_rows == 1 else 's'}"
        if self.source_rows != self.target_rows:
            return f"{self.table}: {rows} on the source, {self.target_rows} copied"
        if not self.same:
            return f"{self.table}: {rows} each, but other primary keys"
        return f"{self.table}: {rows}"


def compare(models: list[type[Model]], source: str, target: str) -> list[TableCheck]:
    """Each model's table on ``source`` and ``target``: row counts and primary-key checksums
    (order-independent: the engines sort text keys differently)."""
    checks = []
    for model in models:
        source_rows, source_keys = _fingerprint(model, source)
        target_rows, target_keys = _fingerprint(model, target)
        table = model._meta.db_table
        checks.append(TableCheck(table, source_rows, target_rows, source_keys, target_keys))
    return checks


def _fingerprint(model: type[Model], alias: str) -> tuple[int, int]:
    rows, total = 0, 0
    keys = model._base_manager.using(alias).values_list("pk", flat=True).order_by()
    for key in keys.iterator(chunk_size=5000):
        digest = hashlib.blake2b(str(key).encode(), digest_size=8).digest()
        total = (total + int.from_bytes(digest, "big")) % 2**64
        rows += 1
    return rows, total
