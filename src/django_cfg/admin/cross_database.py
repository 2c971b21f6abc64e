"""The Django admin on models whose ForeignKeys cross databases.

Used when ``django.contrib.admin`` is installed and some relation crosses databases
(``django_cfg.patches`` rebinds one name of the admin and wraps one method); a user's
``ModelAdmin`` needs no code:

- delete confirmation pages (the delete view, the "delete selected" action, and the POST that
  deletes) collect related rows on every database they live on (``CrossDatabaseNestedObjects``):
  rows to delete, PROTECT/RESTRICT with Django's usual message, and rows on another database
  whose ForeignKey will be set (SET_NULL, SET_DEFAULT, SET(...)) listed under their parent;
  the delete itself is ``obj.delete()`` / ``queryset.delete()``, i.e. ``CrossDatabaseCollector``;
- changelists (``follow_within_databases``, applied to ``ChangeList.apply_select_related``): the
  automatic ``select_related()`` (a ForeignKey in ``list_display``, ``list_select_related =
  True``) JOINs only within one database; ForeignKeys to another database are loaded with one
  query per database (``prefetch_related``), their column loaded even if ``.only()``/``.defer()``
  left it out; a changelist that JOINs nothing across databases keeps Django's query as it is;
- system check ``django_cfg.E030``: an admin option that names a lookup through a relation to
  another database (``search_fields = ["author__username"]``, ``list_filter``, ``ordering``,
  ``list_display``, ``date_hierarchy``, ``list_select_related``) would JOIN across databases at
  request time; ``django_cfg.E031``: ``RelatedOnlyFieldListFilter`` on such a ForeignKey (its
  subquery would cross databases).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from django.contrib import admin
from django.contrib.admin.utils import NestedObjects
from django.contrib.admin.views.main import ChangeList
from django.core.checks import CheckMessage, Error
from django.core.exceptions import FieldDoesNotExist
from django.db.models import ForeignKey, Model, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.db.models.deletion import ProtectedError, RestrictedError
from django.utils.text import capfirst

from django_cfg.relations.collector import CrossDatabaseCollector
from django_cfg.relations.crossing import crossing_fields
from django_cfg.relations.shared_delete import collect_in_tenant, in_each_tenant
from django_cfg.runtime.runtime import current_runtime

__all__ = [
    "CrossDatabaseChangeList",
    "CrossDatabaseNestedObjects",
    "check_admin_lookups",
    "follow_within_databases",
]


# Delete confirmation ---------------------------------------------------------------------------


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


# Changelists -----------------------------------------------------------------------------------


def _home(model: Any) -> str:
    return current_runtime().topology.home(model._meta.app_label)


def _non_null_paths(model: Any, prefix: str = "", depth: int = 5) -> Iterator[tuple[str, bool]]:
    """What a bare ``select_related()`` follows: non-null ForeignKeys, recursively (max 5).

    Yields ``(path, crosses)``; a crossing path is not followed further. Parent links are left
    out, as Django leaves them out (they are always joined).
    """
    if depth == 0:
        return
    for field in model._meta.fields:
        if not isinstance(field, ForeignKey) or field.null or field.remote_field.parent_link:
            continue
        path = f"{prefix}{field.name}"
        target = field.related_model
        if _home(target) != _home(field.model):
            yield path, True
        else:
            yield path, False
            yield from _non_null_paths(target, f"{path}{LOOKUP_SEP}", depth - 1)


def follow_within_databases(queryset: QuerySet[Any], list_display: Iterable[Any]) -> QuerySet[Any]:
    """The admin's ``select_related()``, with ForeignKeys to another database prefetched.

    A query that JOINs nothing across databases is returned as it is: Django's own. Otherwise the
    paths within a database stay JOINed and those across are read with one query per database
    (``prefetch_related``). Django 5.2 selects everything (``select_related()``) when
    ``list_display`` shows a ForeignKey, Django 6.1 names those ForeignKeys
    (``select_related("author")``); a ForeignKey of ``list_display`` to another database is
    prefetched even when nullable (a bare ``select_related()`` skips it: one query per row).
    """
    selected = queryset.query.select_related
    if selected is False:
        return queryset
    model = queryset.model
    if selected is True:
        paths = list(_non_null_paths(model))
    else:
        paths = [
            (path, crossing_in_lookup(model, path, joined=True) is not None)
            for path in _named_paths(selected)
        ]
    local = [path for path, crosses in paths if not crosses]
    across = [path for path, crosses in paths if crosses]
    # A bare select_related() that JOINs nothing across stays, for the nullable ones below.
    rewrite = bool(across) or selected is not True
    shown = _crossing_in_list_display(model, list_display)
    across += [name for name in shown if name not in across]
    if not across:
        return queryset
    if rewrite:
        queryset = queryset.select_related(None)
        if selected is True:  # select_related() JOINs deferred ForeignKeys; named, they must load
            queryset = _load_foreign_keys(queryset, local)
        if local:
            queryset = queryset.select_related(*local)
    return _load_foreign_keys(queryset, across).prefetch_related(*across)


def _crossing_in_list_display(model: Any, list_display: Iterable[Any]) -> Iterator[str]:
    """ForeignKeys to other databases shown in ``list_display`` (``author``, not ``author_id``)."""
    for name in list_display:
        try:
            field = model._meta.get_field(name) if isinstance(name, str) else None
        except FieldDoesNotExist:
            continue
        if field in crossing_fields() and name != getattr(field, "attname", None):
            yield name


def _named_paths(selected: dict[str, Any], prefix: str = "") -> Iterable[str]:
    """``{"post": {"author": {}}}`` (a query's ``select_related``) -> ``post__author``."""
    for name, nested in selected.items():
        path = f"{prefix}{name}"
        if nested:
            yield from _named_paths(nested, f"{path}{LOOKUP_SEP}")
        else:
            yield path


def _deferred_foreign_keys(queryset: QuerySet[Any], paths: Iterable[str]) -> dict[str, Any]:
    """``{path: field}``: the ForeignKeys on ``paths`` that ``.only()`` / ``.defer()`` left out.

    Read as Django's compiler reads them: a model whose select mask is empty loads every column.
    """
    mask: dict[Any, Any] = queryset.query.get_select_mask()  # {field: its mask}
    deferred: dict[str, Any] = {}
    for path in paths:
        level, model, prefix = mask, queryset.model, ""
        for name in path.split(LOOKUP_SEP):
            try:
                field = model._meta.get_field(name)
            except FieldDoesNotExist:
                break  # a FilteredRelation: Django checks it
            if not isinstance(field, ForeignKey):
                break  # a reverse one-to-one: prefetched by the primary key, always loaded
            prefix += name
            if level and field not in level:
                deferred[prefix] = field
            level = level.get(field) or {}
            model, prefix = field.related_model, prefix + LOOKUP_SEP
    return deferred


def _load_foreign_keys(queryset: QuerySet[Any], paths: Iterable[str]) -> QuerySet[Any]:
    """``queryset`` loading the ForeignKey columns on ``paths`` despite ``.only()``/``.defer()``.

    ``select_related("author")`` of a deferred ``author`` is a ``FieldError``, and a prefetch
    would read each row's deferred ``author_id`` with a query of its own.
    """
    deferred = _deferred_foreign_keys(queryset, paths)
    if not deferred:
        return queryset
    names, defers = queryset.query.deferred_loading
    if not defers:  # .only(...): add the paths
        return queryset.only(*names, *deferred)
    undeferred = set()
    for path, field in deferred.items():
        parent = path.rpartition(LOOKUP_SEP)[0]
        undeferred |= {path, f"{parent}{LOOKUP_SEP}{field.attname}" if parent else field.attname}
    return queryset.defer(None).defer(*(set(names) - undeferred))


class CrossDatabaseChangeList(ChangeList):
    """Django's ``ChangeList``, for code that subclassed this class (django-cfg 0.1).

    Every ``ChangeList`` now keeps its ``select_related()`` within one database, a project's own
    subclasses included: ``django_cfg.patches`` wraps ``ChangeList.apply_select_related`` with
    ``follow_within_databases()``.
    """


# System checks ---------------------------------------------------------------------------------


class _Crossing(NamedTuple):
    field: Any
    model: Any
    target: Any


def crossing_in_lookup(model: Any, lookup: str, joined: bool = False) -> _Crossing | None:
    """The relation that ``lookup`` (``author__username``) follows onto another database.

    None when the lookup stays on one database, including the ForeignKey column itself
    (``author``, ``author_id``, ``author__pk``, ``author__id``: no JOIN), unless ``joined``
    (``select_related`` JOINs the ForeignKey itself).
    """
    parts = lookup.split(LOOKUP_SEP)
    current = model
    for index, part in enumerate(parts):
        try:
            field = current._meta.get_field(part)
        except FieldDoesNotExist:
            return None  # a transform, a lookup, or a typo (Django's own checks report those)
        target = field.related_model if field.is_relation else None
        if target is None or isinstance(target, str):
            return None
        if _home(target) != _home(current):
            rest = parts[index + 1 :]
            target_field = getattr(field, "target_field", None)
            column = {"pk", getattr(target_field, "name", "pk")}
            if not joined and (not rest or (isinstance(field, ForeignKey) and rest[0] in column)):
                return None
            return _Crossing(field, current, target)
        current = target
    return None


def _lookups(model_admin: Any) -> Iterator[tuple[str, str]]:
    """``(option, lookup)`` for every admin option that the admin turns into a query."""
    for entry in model_admin.search_fields or ():
        yield "search_fields", str(entry).lstrip("^=@")
    for entry in model_admin.list_filter or ():
        name = entry[0] if isinstance(entry, (tuple, list)) else entry
        if isinstance(name, str):
            yield "list_filter", name
    for entry in model_admin.ordering or ():
        if isinstance(entry, str):
            yield "ordering", entry.lstrip("-")
    for entry in model_admin.list_display or ():
        if isinstance(entry, str) and LOOKUP_SEP in entry:
            yield "list_display", entry
    if model_admin.date_hierarchy:
        yield "date_hierarchy", model_admin.date_hierarchy
    if isinstance(model_admin.list_select_related, (tuple, list)):
        for entry in model_admin.list_select_related:
            yield "list_select_related", entry


_FIXES = {
    "search_fields": "Search fields of {model} itself, or override get_search_results() to search "
    "{target} first and filter {field}__in=list(<their primary keys>).",
    "list_filter": "Filter on the ForeignKey itself (list_filter = [{field!r}]): its choices are "
    "read from {target}'s database and the filter compares the column.",
    "ordering": "Order by a column of {model} (e.g. {field!r}, the ForeignKey column).",
    "list_display": "Show a method that reads obj.{field} instead: the changelist loads "
    "{field!r} with one query per database.",
    "date_hierarchy": "Use a date field of {model} itself.",
    "list_select_related": "Remove {field!r} from list_select_related: the admin loads "
    "ForeignKeys to other databases with one query per database (prefetch_related).",
}


def admin_lookup_errors(site: Any) -> list[CheckMessage]:
    """E030/E031 for every ModelAdmin registered on ``site``."""
    messages: list[CheckMessage] = []
    for model, model_admin in site._registry.items():
        name = type(model_admin).__qualname__  # the check's obj shows its module
        for option, lookup in _lookups(model_admin):
            crossing = crossing_in_lookup(model, lookup, joined=option == "list_select_related")
            if crossing is None:
                continue
            fix = _FIXES[option].format(
                model=model._meta.label,
                target=crossing.target._meta.label,
                field=crossing.field.name,
            )
            messages.append(
                Error(
                    f"{name}.{option} names {lookup!r}, which follows "
                    f"{crossing.model._meta.label}.{crossing.field.name} from database "
                    f"{_home(crossing.model)!r} to {crossing.target._meta.label} on "
                    f"{_home(crossing.target)!r}: a JOIN across databases, which no database "
                    "can run (every request using it would fail).",
                    hint=fix,
                    obj=type(model_admin),
                    id="django_cfg.E030",
                )
            )
        for entry in model_admin.list_filter or ():
            if not isinstance(entry, (tuple, list)) or len(entry) != 2:
                continue
            lookup, filter_class = entry
            if not (
                isinstance(filter_class, type)
                and issubclass(filter_class, admin.RelatedOnlyFieldListFilter)
            ):
                continue
            try:
                field = model._meta.get_field(lookup)
            except FieldDoesNotExist:
                continue
            if field in crossing_fields():
                messages.append(
                    Error(
                        f"{name}.list_filter uses RelatedOnlyFieldListFilter on {lookup!r}, a "
                        f"ForeignKey to {field.related_model._meta.label} on another database: "
                        "its choices come from a subquery across databases.",
                        hint=f"Use list_filter = [{lookup!r}] (every "
                        f"{field.related_model._meta.label} is offered), or a SimpleListFilter "
                        "that reads the used ids first.",
                        obj=type(model_admin),
                        id="django_cfg.E031",
                    )
                )
    return messages


def check_admin_lookups(**_: Any) -> list[CheckMessage]:
    """``manage.py check``: admin options that would JOIN across databases (every admin site)."""
    from django.contrib.admin.sites import all_sites

    if not crossing_fields():
        return []
    messages: list[CheckMessage] = []
    for site in all_sites:
        messages += admin_lookup_errors(site)
    return messages
