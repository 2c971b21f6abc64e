"""Deletes that follow ForeignKeys onto other databases: ``CrossDatabaseCollector``.

    post.author.delete()   # Model.delete() builds this collector (django_cfg.patches, patch 1)

Rows on another database are handed to a collector for that database; every check (PROTECT,
RESTRICT) runs before anything is deleted; a delete intent is recorded where a crash could
leave half of it done (``relations.delete_intents``), and the rows of shared models that tenant
databases point at are checked and swept in every tenant (``relations.shared_delete``).
"""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack
from itertools import chain
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import QuerySet
from django.db.models.deletion import Collector, RestrictedError

from django_cfg.relations.crossing import crossing_fields
from django_cfg.runtime.runtime import current_runtime
from django_cfg.state.topology import TENANT_HOME

if TYPE_CHECKING:
    from django_cfg.relations import shared_delete

# The intents, the tenant sweeps and the roll-forward are imported by the deletes that use
# them: installing this class as Django's Collector (patch 1) at startup loads none of them.

__all__ = ["CrossDatabaseCollector"]


def _database_of(objs: Any) -> str | None:
    if isinstance(objs, QuerySet):
        return objs.db
    for obj in objs:
        return obj._state.db  # type: ignore[no-any-return]
    return None


class CrossDatabaseCollector(Collector):
    """Django's deletion collector, extended to follow relations onto other databases.

    Objects on another database are handed to a collector for that database; all checks
    (PROTECT, RESTRICT) run before anything is deleted; deletes then run inside one transaction
    per database, the other databases' rows first, with the delete's intent recorded in each
    of them so that a crash between the commits is found and finished (``delete_intents``).
    """

    def __init__(self, using: str, origin: Any = None, **options: Any) -> None:
        # options: Django 6.1's force_collection (the admin's NestedObjects passes it).
        super().__init__(using, origin, **options)
        self._options = options
        self._foreign: dict[str, CrossDatabaseCollector] = {}

    def _collector_for(self, objs: Any) -> CrossDatabaseCollector:
        db = _database_of(objs)
        topology = current_runtime().topology
        if db is None or topology.primary_of(db) == topology.primary_of(self.using):
            return self
        if db not in self._foreign:
            self._foreign[db] = type(self)(using=db, origin=self.origin, **self._options)
        return self._foreign[db]

    def related_objects(self, related_model: Any, related_fields: Any, objs: Any) -> Any:
        queryset = super().related_objects(related_model, related_fields, objs)
        crossing = crossing_fields()
        if any(field in crossing for field in related_fields):
            home = current_runtime().topology.home(related_model._meta.app_label)
            if home == TENANT_HOME:
                # Rows of a tenant app: every tenant's, checked and changed tenant by tenant
                # when this collector deletes (shared_delete), not collected here.
                return queryset.none()
            return queryset.using(home)
        return queryset

    def can_fast_delete(self, objs: Any, from_field: Any = None) -> bool:
        if from_field is not None and from_field in crossing_fields():
            return False  # collected (and maybe fast-deleted) by the other database's collector
        return super().can_fast_delete(objs, from_field)

    def collect(
        self,
        objs: Any,
        source: Any = None,
        nullable: bool = False,
        collect_related: bool = True,
        source_attr: str | None = None,
        reverse_dependency: bool = False,
        keep_parents: bool = False,
        fail_on_restricted: bool = True,
    ) -> None:
        collector = self._collector_for(objs)
        if collector is not self:
            collector.collect(
                objs,
                nullable=nullable,
                collect_related=collect_related,
                source_attr=source_attr,
                keep_parents=keep_parents,
                fail_on_restricted=False,
            )
            return
        super().collect(
            objs,
            source,
            nullable,
            collect_related,
            source_attr,
            reverse_dependency,
            keep_parents,
            fail_on_restricted,
        )
        if fail_on_restricted:
            for foreign in self._foreign_collectors():
                foreign._raise_if_restricted()

    def add_field_update(self, field: Any, value: Any, objs: Any) -> None:
        if isinstance(objs, QuerySet) and objs.query.is_empty():
            return  # SET_NULL of the tenant rows left to shared_delete (related_objects)
        collector = self._collector_for(objs)
        if collector is self:
            super().add_field_update(field, value, objs)
        else:
            collector.add_field_update(field, value, objs)

    def add_restricted_objects(self, field: Any, objs: Any) -> None:
        collector = self._collector_for(objs)
        if collector is self:
            super().add_restricted_objects(field, objs)
        else:
            collector.add_restricted_objects(field, objs)

    def add_dependency(self, model: Any, dependency: Any, reverse_dependency: bool = False) -> None:
        topology = current_runtime().topology
        if topology.home(model._meta.app_label) == topology.home(dependency._meta.app_label):
            super().add_dependency(model, dependency, reverse_dependency)

    def _foreign_collectors(self) -> list[CrossDatabaseCollector]:
        found = []
        for foreign in self._foreign.values():
            found += [foreign, *foreign._foreign_collectors()]
        return found

    def _raise_if_restricted(self) -> None:
        """Django's end-of-collect RESTRICT check, for objects collected on this database."""
        data: dict[Any, Any] = self.data
        for model, instances in data.items():
            self.clear_restricted_objects_from_set(model, instances)
        for queryset in self.fast_deletes:
            self.clear_restricted_objects_from_queryset(queryset.model, queryset)
        restricted_objects: dict[Any, Any] = self.restricted_objects
        restricted = {
            f"'{model.__name__}.{field.name}'": objs
            for model, fields in restricted_objects.items()
            for field, objs in fields.items()
            if objs
        }
        if restricted:
            origin: Any = self.origin
            model_name = getattr(origin, "model", type(origin)).__name__
            raise RestrictedError(
                f"Cannot delete some instances of model {model_name!r} "
                f"because they are referenced through restricted foreign keys on database "
                f"{self.using!r}: {', '.join(restricted)}.",
                set(chain.from_iterable(restricted.values())),
            )

    def tenant_references(self) -> list[shared_delete.TenantReference]:
        """The tenant rows that reference the shared rows this delete removes (every tenant's:
        ``shared_delete``); none for a collector whose rows a recorded delete handles."""
        from django_cfg.relations import delete_intents, shared_delete

        if delete_intents.recorded_elsewhere(self):
            return []
        data: dict[Any, list[Any]] = {}
        for collector in (self, *self._foreign_collectors()):
            for model, rows in collector.data.items():
                data.setdefault(model, []).extend(rows)
        return shared_delete.tenant_references(data)

    def delete(self) -> tuple[int, dict[str, int]]:
        from django_cfg.relations import delete_intents, shared_delete
        from django_cfg.relations.roll_forward import SWEEPS_PER_DELETE, finish_abandoned_sweeps

        references = self.tenant_references()
        if not self._foreign and not references:
            return super().delete()
        if references:
            finish_abandoned_sweeps(CrossDatabaseCollector, limit=SWEEPS_PER_DELETE)
            shared_delete.check_every_tenant(references, _collector_on)
        counts: Counter[str] = Counter()
        databases = dict.fromkeys([self.using, *(c.using for c in self._foreign_collectors())])
        with ExitStack() as stack:
            for db in databases:
                stack.enter_context(transaction.atomic(using=db, savepoint=False))
            # Crash safety: record what is deleted, in each database's transaction, first.
            intent = delete_intents.record_delete(
                self, self._foreign_collectors(), list(databases), references
            )
            stack.callback(intent.close)
            for foreign in self._foreign.values():
                counts.update(foreign.delete()[1])
            counts.update(super().delete()[1])
        if references:  # once every database committed: every tenant, then forget the intent
            intent.before_removal = lambda: counts.update(
                shared_delete.sweep_every_tenant(references, _collector_on)
            )
        intent.finish()  # every database committed: forget the intent
        return sum(counts.values()), dict(counts)


def _collector_on(alias: str) -> CrossDatabaseCollector:
    """A collector for one tenant's rows (``shared_delete``)."""
    return CrossDatabaseCollector(using=alias)
