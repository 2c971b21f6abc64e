"""Which tenant databases a command visits: every tenant, or those named by ``--tenant``.

    def add_arguments(self, parser):
        add_tenant_option(parser, "Only this tenant's database")

    def handle(self, **options):
        with selected_tenants(options["tenants"], every=not options["databases"]) as tenants:
            for alias in tenants.aliases:          # tenant_acme, tenant_beta, ...
                if alias in tenants.failures:      # could not be opened: report, go on
                    ...

Shared by ``migrate_all``, ``db_status``, ``dumpdata_all``, ``loaddata_all`` and
``repair_relations``. Every selected tenant's database is opened in this process and stays
open until the block ends (``TenantRegistry.holding``: ``max_open`` applies afterwards).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.core.management.base import CommandError, CommandParser
from django.db import DatabaseError

from django_cfg.management.did_you_mean import did_you_mean
from django_cfg.settings.tenant_names import tenant_alias
from django_cfg.tenants.errors import UnknownTenantError
from django_cfg.tenants.registry import TenantRegistry, current_registry

__all__ = [
    "TenantDatabases",
    "add_tenant_option",
    "registry_for_option",
    "selected_tenants",
    "tenant_names",
]


@dataclass
class TenantDatabases:
    """The selected tenants' aliases (in name order) and those that could not be opened."""

    aliases: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    """alias -> why its database could not be opened (the others go on)."""

    @property
    def opened(self) -> list[str]:
        """The aliases whose database is open in this process."""
        return [alias for alias in self.aliases if alias not in self.failures]


def add_tenant_option(parser: CommandParser, help_text: str) -> None:
    """``--tenant NAME`` (repeatable), into ``options["tenants"]``."""
    parser.add_argument("--tenant", action="append", dest="tenants", metavar="NAME", help=help_text)


@contextmanager
def selected_tenants(requested: Sequence[str] | None, *, every: bool) -> Iterator[TenantDatabases]:
    """Open the tenants named in ``requested``; none named: every tenant if ``every``, else none.

    ``--tenant`` in a project without tenants, an unknown or invalid name: ``CommandError``.
    Before ``default`` is migrated (no tenants table yet) there is no tenant to visit.
    """
    registry = registry_for_option(requested)
    if registry is None:
        yield TenantDatabases()
        return
    with registry.holding():  # every selected tenant stays open until the command is done
        yield _open(registry, requested, every)


def registry_for_option(requested: Sequence[str] | None) -> TenantRegistry | None:
    """The project's tenant registry (None without tenants); ``CommandError`` for ``--tenant``
    in a project without tenants."""
    registry = current_registry()
    if requested and registry is None:
        raise CommandError("--tenant: this project has no tenants (DjangoConfig.tenants).")
    return registry


def tenant_names(
    registry: TenantRegistry, requested: Sequence[str] | None, *, every: bool
) -> list[str]:
    """The tenants named in ``requested`` (checked); none named: every tenant if ``every``,
    else none. An unknown or invalid name: ``CommandError``. Before ``default`` is migrated (no
    tenants table yet) there is no tenant."""
    names: Sequence[str] = requested or ()
    if not requested and every:
        try:
            names = registry.names()
        except DatabaseError:  # default not migrated yet: no tenant was created
            names = []
    return [_checked(registry, name) for name in names]


def _checked(registry: TenantRegistry, name: str) -> str:
    """``name`` if it is a tenant, else a ``CommandError`` with the closest tenant names."""
    try:
        return registry.check(name)
    except ValueError as error:
        raise CommandError(str(error)) from None
    except UnknownTenantError as error:
        try:
            known = registry.names()
        except DatabaseError:
            known = []
        raise CommandError(f"{error}{did_you_mean(name, known)}") from None


def _open(
    registry: TenantRegistry, requested: Sequence[str] | None, every: bool
) -> TenantDatabases:
    selected = TenantDatabases()
    for name in tenant_names(registry, requested, every=every):
        try:
            selected.aliases.append(registry.alias_for(name))
        except (ValueError, DatabaseError, OSError) as error:  # DatabaseURLError included
            alias = tenant_alias(name)
            selected.aliases.append(alias)
            selected.failures[alias] = f"cannot open its database: {error}"
    return selected
