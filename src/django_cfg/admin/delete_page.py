"""The admin's delete confirmation page, across databases and tenants.

Used when ``django.contrib.admin`` is installed and some relation crosses databases:
``django_cfg.patches`` rebinds ``django.contrib.admin.utils.NestedObjects`` (which
``get_deleted_objects()`` instantiates) to ``CrossDatabaseNestedObjects``, so the delete view,
the "delete selected" action and the POST that deletes collect related rows on every database
they live on: rows to delete, PROTECT/RESTRICT with Django's usual message, rows on another
database whose ForeignKey will be set (SET_NULL, SET_DEFAULT, SET(...)) listed under their
parent, and what the delete does in each tenant (``shared_delete``). The delete itself is
``obj.delete()`` / ``queryset.delete()``, i.e. ``CrossDatabaseCollector``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any, NamedTuple

from django.contrib.admin.utils import NestedObjects
from django.db.models import Model
from django.db.models.deletion import ProtectedError, RestrictedError
from django.utils.text import capfirst

from django_cfg.relations.collector import CrossDatabaseCollector
from django_cfg.relations.crossing import crossing_fields

__all__ = ["CrossDatabaseNestedObjects"]


class FieldUpdate(NamedTuple):
    """A row on another database whose ForeignKey the delete will set (SET_NULL, ...)."""

    obj: Model
    field: Any
    value: Any

    def __str__(self) -> str:
        value = "NULL" if self.value is None else repr(self.value)
        return (
            f"{capfirst(self.obj._meta.verbose_name)}: {self.obj} "
            f"({self.field.name} will be set to {value}, on database {self.obj._state.db!r})"
        )


class TenantRow:
    """A tenant's row on the delete confirmation page: ``Note: hello (tenant acme)``; Django's
    ``format_callback`` reads ``_meta`` (the model is not registered: no link)."""

    def __init__(self, obj: Model, tenant: str, update: tuple[Any, Any] | None = None) -> None:
        self.obj, self.tenant, self.update = obj, tenant, update
        self.model: Any = obj._meta.model
        self._meta = obj._meta

    def __str__(self) -> str:
        if self.update is None:
            return f"{self.obj} (tenant {self.tenant})"
        field, value = self.update
        value = "NULL" if value is None else repr(value)
        return f"{self.obj} ({field.name} will be set to {value}, in tenant {self.tenant})"

    def describe(self) -> str:
        """As Django's delete page shows a row without a link: ``Note: hello (tenant acme)``."""
        return f"{capfirst(self._meta.verbose_name)}: {self}"


class TenantEffect:
    """``Tenant acme: 2 notes deleted, 1 task set to NULL`` and the rows (``TenantRow``)."""

    def __init__(self, tenant: str, deleted: Counter[str], updated: Counter[str]) -> None:
        self.tenant, self.deleted, self.updated = tenant, deleted, updated
        self.rows: list[TenantRow] = []

    @classmethod
    def of(cls, collector: CrossDatabaseCollector, tenant: str) -> TenantEffect:
        """What ``collector`` (one tenant's, collected) would do."""
        effect = cls(tenant, Counter(), Counter())
        fast_deletes: list[Any] = collector.fast_deletes  # querysets: listed here
        deleted = [*collector.data.items(), *((qs.model, list(qs)) for qs in fast_deletes)]
        for model, objs in deleted:
            if objs:
                effect.deleted[_plural(model, len(objs))] += len(objs)
                effect.rows += [TenantRow(obj, tenant) for obj in objs]
        field_updates: dict[tuple[Any, Any], list[Any]] = collector.field_updates
        for (field, value), batches in field_updates.items():
            rows = [row for batch in batches for row in batch]
            what = "NULL" if value is None else repr(value)
            effect.updated[f"{_plural(field.model, len(rows))}: {field.name} set to {what}"] += len(
                rows
            )
            effect.rows += [TenantRow(row, tenant, (field, value)) for row in rows]
        return effect

    def __str__(self) -> str:
        deleted = [f"{count} {what} deleted" for what, count in self.deleted.items()]
        updated = [f"{count} {what}" for what, count in self.updated.items()]
        return f"Tenant {self.tenant}: {', '.join(deleted + updated)}"


def _plural(model: Any, count: int) -> str:
    meta = model._meta
    return str(meta.verbose_name if count == 1 else meta.verbose_name_plural)


class CrossDatabaseNestedObjects(NestedObjects, CrossDatabaseCollector):
    """The admin's ``NestedObjects`` over ``CrossDatabaseCollector``.

    One collector per database, as for ``obj.delete()``; they share the display state
    (``edges``, ``protected``, ``model_objs``) so the confirmation page shows one tree.
    """

    def _collector_for(self, objs: Any) -> CrossDatabaseCollector:
        collector = super()._collector_for(objs)
        if isinstance(collector, CrossDatabaseNestedObjects) and collector is not self:
            collector.edges = self.edges
            collector.protected = self.protected
            collector.model_objs = self.model_objs
        return collector

    def collect(self, objs: Any, source: Any = None, source_attr: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
        collector = self._collector_for(objs)
        if collector is not self:
            # Rows of another database: its collector records them (edges, protected), as
            # CrossDatabaseCollector.collect() does, but with ``source``: NestedObjects needs it
            # to name the edge; RESTRICT is checked once, by the first collector.
            kwargs["fail_on_restricted"] = False
            return collector.collect(objs, source=source, source_attr=source_attr, **kwargs)
        return super().collect(objs, source=source, source_attr=source_attr, **kwargs)

    def related_objects(self, related_model: Any, related_fields: Any, objs: Any) -> Any:
        crossing = crossing_fields()
        if not any(field in crossing for field in related_fields):
            return super().related_objects(related_model, related_fields, objs)
        # NestedObjects would select_related() the ForeignKey back to the deleted rows: a JOIN
        # across databases. Same-database ones are still joined, the others prefetched.
        queryset = CrossDatabaseCollector.related_objects(self, related_model, related_fields, objs)
        local = [field.name for field in related_fields if field not in crossing]
        if local:
            queryset = queryset.select_related(*local)
        return queryset.prefetch_related(*(f.name for f in related_fields if f in crossing))

    def _has_signal_listeners(self, model: Any) -> bool:
        # Collector.collect() defers every column of related rows unless they are
        # select_related() or have signal listeners; the page shows str(row) and prefetches the
        # ForeignKey, so deferred columns would cost one query per row. Only read by collect()
        # and can_fast_delete() (always False in NestedObjects). Django 5.2 checked;
        # tests/admin/test_admin_across_databases.py counts the queries.
        return True

    def nested(self, format_callback: Any = None) -> list[Any]:
        for parent, update in self._field_updates_across():
            self.add_edge(parent, update)  # type: ignore[arg-type]
        self._add_tenant_effects()

        def callback(obj: Any) -> Any:
            if isinstance(obj, TenantRow):
                return obj.describe()
            if isinstance(obj, (FieldUpdate, TenantEffect)):
                return str(obj)
            return format_callback(obj) if format_callback else obj

        return super().nested(callback)

    def _add_tenant_effects(self) -> None:
        """What the delete does in each tenant (``shared_delete``), under the deleted row (a
        single one) or beside them: one line per tenant, its rows below it; PROTECT / RESTRICT
        rows go to ``protected`` with their tenant, as Django lists its own."""
        references = self.tenant_references()
        if not references:
            return
        # Imported here: a project without tenants never needs it at startup (issue 23).
        from django_cfg.relations.shared_delete import collect_in_tenant, in_each_tenant

        edges: dict[Any, list[Any]] = self.edges  # rows, and the page's lines (ours)
        protected: set[Any] = self.protected
        model_objs: dict[Any, set[Any]] = self.model_objs
        roots = edges.get(None, [])
        parent = roots[0] if len(roots) == 1 else None

        def preview(name: str, alias: str) -> None:
            collector = CrossDatabaseCollector(using=alias)
            try:
                collect_in_tenant(collector, name, references)
            except ProtectedError as error:
                protected.update(TenantRow(o, name) for o in error.protected_objects)
                return
            except RestrictedError as error:
                protected.update(TenantRow(o, name) for o in error.restricted_objects)
                return
            effect = TenantEffect.of(collector, name)
            if effect.rows:
                edges.setdefault(parent, []).append(effect)
                edges[effect] = list(effect.rows)
                for row in effect.rows:
                    if row.update is None:  # the summary counts deleted rows, as Django's
                        model_objs[row.model].add(row)

        in_each_tenant(preview)

    def _field_updates_across(self) -> Iterator[tuple[Model | None, FieldUpdate]]:
        """Rows on other databases that the delete updates, each with the row it points to."""
        crossing = crossing_fields()
        for collector in [self, *self._foreign_collectors()]:
            field_updates: dict[tuple[Any, Any], list[Any]] = collector.field_updates
            for (field, value), batches in field_updates.items():
                if field not in crossing:
                    continue
                target = field.target_field.attname
                parents = {getattr(p, target): p for p in self.model_objs[field.related_model]}
                for batch in batches:
                    for row in batch:
                        parent = parents.get(getattr(row, field.attname))
                        yield parent, FieldUpdate(row, field, value)
