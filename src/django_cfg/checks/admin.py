"""System checks of the admin: options that would JOIN across databases at request time.

    django_cfg.E030  an admin option names a lookup through a relation to another database
                     (``search_fields = ["author__username"]``, ``list_filter``, ``ordering``,
                     ``list_display``, ``date_hierarchy``, ``list_select_related``)
    django_cfg.E031  ``RelatedOnlyFieldListFilter`` on such a ForeignKey (its subquery would
                     cross databases)

Not imported by ``django_cfg.checks``: ``DjangoCfgConfig.ready()`` registers
``check_admin_lookups`` when ``django.contrib.admin`` is installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib import admin
from django.core.checks import CheckMessage, Error
from django.core.exceptions import FieldDoesNotExist
from django.db.models.constants import LOOKUP_SEP

from django_cfg.admin.lookups import LookupCrossing, crossing_in_lookup, home_database
from django_cfg.relations.crossing import crossing_fields

__all__ = ["admin_lookup_errors", "check_admin_lookups"]


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
        messages += _joins_across(model, model_admin)
        messages += _related_only_filters_across(model, model_admin)
    return messages


def _joins_across(model: Any, model_admin: Any) -> Iterator[CheckMessage]:
    """E030: each option's lookup that follows a relation onto another database."""
    for option, lookup in _lookups(model_admin):
        crossing = crossing_in_lookup(model, lookup, joined=option == "list_select_related")
        if crossing is not None:
            yield _join_error(model, model_admin, option, lookup, crossing)


def _join_error(
    model: Any, model_admin: Any, option: str, lookup: str, crossing: LookupCrossing
) -> CheckMessage:
    name = type(model_admin).__qualname__  # the check's obj shows its module
    fix = _FIXES[option].format(
        model=model._meta.label,
        target=crossing.target._meta.label,
        field=crossing.field.name,
    )
    return Error(
        f"{name}.{option} names {lookup!r}, which follows "
        f"{crossing.model._meta.label}.{crossing.field.name} from database "
        f"{home_database(crossing.model)!r} to {crossing.target._meta.label} on "
        f"{home_database(crossing.target)!r}: a JOIN across databases, which no database "
        "can run (every request using it would fail).",
        hint=fix,
        obj=type(model_admin),
        id="django_cfg.E030",
    )


def _related_only_filters_across(model: Any, model_admin: Any) -> Iterator[CheckMessage]:
    """E031: ``RelatedOnlyFieldListFilter`` on a ForeignKey to another database."""
    name = type(model_admin).__qualname__
    for lookup in _related_only_lookups(model_admin):
        try:
            field = model._meta.get_field(lookup)
        except FieldDoesNotExist:
            continue
        if field in crossing_fields():
            yield Error(
                f"{name}.list_filter uses RelatedOnlyFieldListFilter on {lookup!r}, a "
                f"ForeignKey to {field.related_model._meta.label} on another database: "
                "its choices come from a subquery across databases.",
                hint=f"Use list_filter = [{lookup!r}] (every "
                f"{field.related_model._meta.label} is offered), or a SimpleListFilter "
                "that reads the used ids first.",
                obj=type(model_admin),
                id="django_cfg.E031",
            )


def _related_only_lookups(model_admin: Any) -> Iterator[str]:
    """The lookups that ``list_filter`` filters with ``RelatedOnlyFieldListFilter`` (or a
    subclass): ``("author", admin.RelatedOnlyFieldListFilter)``."""
    for entry in model_admin.list_filter or ():
        if not isinstance(entry, (tuple, list)) or len(entry) != 2:
            continue
        lookup, filter_class = entry
        if isinstance(filter_class, type) and issubclass(
            filter_class, admin.RelatedOnlyFieldListFilter
        ):
            yield lookup


def check_admin_lookups(**_: Any) -> list[CheckMessage]:
    """``manage.py check``: admin options that would JOIN across databases (every admin site)."""
    from django.contrib.admin.sites import all_sites

    if not crossing_fields():
        return []
    messages: list[CheckMessage] = []
    for site in all_sites:
        messages += admin_lookup_errors(site)
    return messages
