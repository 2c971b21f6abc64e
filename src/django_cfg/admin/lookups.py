"""Which relation an admin lookup (``author__username``) follows onto another database.

Read by the changelist (``changelist.follow_within_databases``: which ``select_related`` paths
to prefetch instead) and by the admin's system checks (``checks.admin``: E030).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from django.core.exceptions import FieldDoesNotExist
from django.db.models import ForeignKey
from django.db.models.constants import LOOKUP_SEP

from django_cfg.runtime.runtime import current_runtime

__all__ = ["LookupCrossing", "crossing_in_lookup", "home_database"]


def home_database(model: Any) -> str:
    """The alias ``model``'s app is routed to."""
    return current_runtime().topology.home(model._meta.app_label)


class LookupCrossing(NamedTuple):
    """``field`` of ``model`` goes to ``target``, a model on another database."""

    field: Any
    model: Any
    target: Any


def crossing_in_lookup(model: Any, lookup: str, joined: bool = False) -> LookupCrossing | None:
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
        if home_database(target) != home_database(current):
            rest = parts[index + 1 :]
            target_field = getattr(field, "target_field", None)
            column = {"pk", getattr(target_field, "name", "pk")}
            if not joined and (not rest or (isinstance(field, ForeignKey) and rest[0] in column)):
                return None
            return LookupCrossing(field, current, target)
        current = target
    return None
