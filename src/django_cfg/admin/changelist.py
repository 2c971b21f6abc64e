"""The admin's changelist query, its ``select_related()`` kept within one database.

``django_cfg.patches`` wraps ``ChangeList.apply_select_related`` with
``follow_within_databases()``: the automatic ``select_related()`` (a ForeignKey in
``list_display``, ``list_select_related = True``) JOINs only within one database; ForeignKeys to
another database are loaded with one query per database (``prefetch_related``), their column
loaded even if ``.only()``/``.defer()`` left it out; a changelist that JOINs nothing across
databases keeps Django's query as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist
from django.db.models import ForeignKey, QuerySet
from django.db.models.constants import LOOKUP_SEP

from django_cfg.admin.lookups import crossing_in_lookup, home_database
from django_cfg.relations.crossing import crossing_fields

__all__ = ["CrossDatabaseChangeList", "follow_within_databases"]


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
        if home_database(target) != home_database(field.model):
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
