"""A shared row's delete reaches every tenant: ``on_delete`` of tenant rows that reference it.

    class Note(models.Model):                    # a tenant app: a table in every tenant
        author = models.ForeignKey(User, on_delete=models.CASCADE)    # User: shared, default

    user.delete()          # whichever tenant is selected, or none: every tenant's notes go

``CrossDatabaseCollector`` leaves the tenant rows out of its collection (which tenant's would
it be?) and hands the references to this module (docs/tenants.md, "Deleting a shared row"):

1. ``check_every_tenant``: each tenant in turn applies ``on_delete`` without deleting; PROTECT
   or RESTRICT in any tenant raises ``ProtectedError`` / ``RestrictedError`` naming the tenant,
   and nothing is deleted anywhere;
2. the shared rows are deleted with an intent that names the references (``EVERY_TENANT``
   parts, ``delete_intents``), committed with them;
3. ``sweep_every_tenant``: each tenant in turn applies ``on_delete`` in its own transaction;
   then the intent is removed. A crash in between leaves the intent: the next shared delete of
   any process (or ``repair_relations``) sweeps again (idempotent) and removes it.

Tenants are opened one at a time (``TenantRegistry.pin``) and a tenant this process did not
have open is closed again, so a delete holds at most one tenant database more than before.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from django.db import DatabaseError, models
from django.db.models.deletion import Collector, ProtectedError, RestrictedError

from django_cfg.runtime.runtime import current_runtime
from django_cfg.state.topology import TENANT_HOME

__all__ = [
    "EVERY_TENANT",
    "SharedDeleteIncomplete",
    "TenantReference",
    "check_every_tenant",
    "in_each_tenant",
    "sweep_every_tenant",
    "tenant_references",
]

logger = logging.getLogger("django_cfg.deletes")

EVERY_TENANT = "every tenant"
"""The ``database`` of an intent part whose references are swept in every tenant."""

BATCH_SIZE = 500  # values per query (SQLite allows 999 parameters before 3.32)

MakeCollector = Callable[[str], Collector]


class TenantReference(NamedTuple):
    """Tenant rows whose ``field`` (a ForeignKey to a shared model) holds one of ``values``."""

    field: Any
    values: tuple[Any, ...]

    @property
    def label(self) -> str:
        """``notes.Note.author``."""
        return f"{self.field.model._meta.label}.{self.field.name}"


class SharedDeleteIncomplete(DatabaseError):
    """Shared rows were deleted but some tenants could not apply their ``on_delete`` yet."""


def tenant_references(data: Mapping[Any, Iterable[Any]]) -> list[TenantReference]:
    """The references from tenant models to the shared rows of ``data`` (``{model: rows}``, a
    collector's), one per ForeignKey (DO_NOTHING ones left out); none when the rows' model is
    itself a tenant model."""
    topology = current_runtime().topology
    found: list[TenantReference] = []
    for model, rows in data.items():
        if topology.home(model._meta.app_label) == TENANT_HOME:
            continue
        listed = list(rows)
        for related in model._meta.related_objects:
            field = related.field
            if (
                related.many_to_many
                or related.on_delete is models.DO_NOTHING
                or topology.home(field.model._meta.app_label) != TENANT_HOME
            ):
                continue
            attname = field.target_field.attname
            values = tuple(
                dict.fromkeys(v for row in listed if (v := getattr(row, attname)) is not None)
            )
            if values:
                found.append(TenantReference(field, values))
    return found


def in_each_tenant(work: Callable[[str, str], None], failed: dict[str, str] | None = None) -> None:
    """``work(name, alias)`` for every tenant, in turn, with the tenant selected and its
    database open (pinned) during the call; a tenant this process did not have open is closed
    again after it. A tenant dropped meanwhile is skipped. With ``failed``, a tenant whose
    database fails (or refuses, PROTECT) is recorded there and the others go on."""
    # Imported here: a project without tenants never loads the tenant code (issue 23).
    from django_cfg.tenants.context import use_tenant
    from django_cfg.tenants.errors import UnknownTenantError
    from django_cfg.tenants.registry import current_registry

    registry = current_registry()
    if registry is None:
        return
    for name in registry.names():
        was_open = name in registry.open
        try:
            alias = registry.pin(name)
        except UnknownTenantError:
            continue  # dropped since names() was read: no rows left to change
        except DatabaseError as error:
            if failed is None:
                raise
            failed[name] = f"its database cannot be opened ({error})"
            continue
        try:
            with use_tenant(name):
                work(name, alias)
        except (DatabaseError, ProtectedError, RestrictedError) as error:
            if failed is None:
                raise
            failed[name] = str(error)
        finally:
            registry.unpin(name)
            if not was_open:
                registry.close_unless_used(name)


def collect_in_tenant(
    collector: Collector, name: str, references: Iterable[TenantReference]
) -> Collector:
    """Apply each reference's ``on_delete`` on ``collector`` (a collector on the tenant's
    database), as Django's collector does; ``ProtectedError`` / ``RestrictedError`` name the
    tenant."""
    alias = collector.using
    try:
        for reference in references:
            field = reference.field
            manager = field.model._base_manager.using(alias)
            for start in range(0, len(reference.values), BATCH_SIZE):
                values = reference.values[start : start + BATCH_SIZE]
                rows = manager.filter(**{f"{field.attname}__in": values})
                if rows:
                    field.remote_field.on_delete(collector, field, rows, alias)
        raise_if_restricted = getattr(collector, "_raise_if_restricted", None)
        if raise_if_restricted is not None:
            raise_if_restricted()
    except ProtectedError as error:
        raise ProtectedError(_in_tenant(name, alias, error), error.protected_objects) from error
    except RestrictedError as error:
        raise RestrictedError(_in_tenant(name, alias, error), error.restricted_objects) from error
    return collector


def _check(collector: Collector, name: str, references: Iterable[TenantReference]) -> None:
    nothing = (
        "Nothing was deleted in any database: delete or change those rows in that tenant first."
    )
    try:
        collect_in_tenant(collector, name, references)
    except ProtectedError as error:  # an IntegrityError: before DatabaseError
        raise ProtectedError(f"{error.args[0]} {nothing}", error.protected_objects) from error
    except RestrictedError as error:
        raise RestrictedError(f"{error.args[0]} {nothing}", error.restricted_objects) from error
    except DatabaseError as error:
        raise DatabaseError(
            f"Could not check tenant {name!r} (database {collector.using!r}) for rows that "
            f"PROTECT the rows being deleted: {error}. Nothing was deleted in any database."
        ) from error


def _in_tenant(name: str, alias: str, error: Exception) -> str:
    return f"In tenant {name!r} (database {alias!r}): {str(error.args[0]).rstrip('.')}."


def check_every_tenant(references: list[TenantReference], make_collector: MakeCollector) -> None:
    """Raise before anything is deleted if a tenant's rows PROTECT / RESTRICT the shared rows
    (or a tenant's database cannot be read: the delete could not be checked there)."""
    refusals = {reference: _refusals(reference) for reference in references}
    if not any(refusals.values()):
        return  # nothing can refuse: no tenant to visit before the delete
    if set().union(*refusals.values()) == {models.PROTECT}:
        # PROTECT refuses whatever else is deleted: only the references that reach it
        checked = [reference for reference, found in refusals.items() if found]
    else:  # RESTRICT yields to a row deleted through another path: collect them all
        checked = references
    in_each_tenant(lambda name, alias: _check(make_collector(alias), name, checked))


def sweep_every_tenant(
    references: list[TenantReference], make_collector: MakeCollector
) -> Counter[str]:
    """Apply the references' ``on_delete`` in every tenant, each in its own transaction; the
    rows deleted per model label. A tenant that fails is named in ``SharedDeleteIncomplete``
    after the others are done."""
    deleted: Counter[str] = Counter()
    failed: dict[str, str] = {}

    def sweep(name: str, alias: str) -> None:
        collector = collect_in_tenant(make_collector(alias), name, references)
        deleted.update(collector.delete()[1])

    in_each_tenant(sweep, failed)
    if failed:
        where = "; ".join(f"tenant {name!r}: {why}" for name, why in failed.items())
        raise SharedDeleteIncomplete(
            f"The shared rows were deleted, but on_delete of {_labels(references)} could not "
            f"be applied in {len(failed)} tenant(s): {where}. The delete's intent is kept: the "
            "next delete of a shared row (any process) or 'manage.py repair_relations' finishes "
            "it once those tenants can be changed."
        )
    return Counter({label: count for label, count in deleted.items() if count})


def _labels(references: Iterable[TenantReference]) -> str:
    return ", ".join(dict.fromkeys(reference.label for reference in references))


def _refusals(reference: TenantReference) -> set[Any]:
    """The ``on_delete`` of ``reference``, or of a row it cascades to, that may refuse the
    delete: PROTECT, RESTRICT, or a function of the user's (SET_NULL, SET_DEFAULT, SET(...)
    and DO_NOTHING never refuse)."""
    found: set[Any] = set()
    seen: set[Any] = set()

    def visit(on_delete: Any, model: Any) -> None:
        if on_delete is models.CASCADE:
            if model not in seen:
                seen.add(model)
                for related in model._meta.related_objects:
                    if not related.many_to_many:
                        visit(related.on_delete, related.related_model)
        elif on_delete not in (models.SET_NULL, models.SET_DEFAULT, models.DO_NOTHING) and not (
            hasattr(on_delete, "deconstruct")  # SET(...): sets a value
        ):
            found.add(on_delete)

    visit(reference.field.remote_field.on_delete, reference.field.model)
    return found
