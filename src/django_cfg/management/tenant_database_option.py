"""Django's own commands with ``--database tenant_<name>``: the tenant's database, the tenant
selected while the command runs.

    # management/commands/dumpdata.py of this package
    from django.core.management.commands.dumpdata import Command as DumpData

    class Command(TenantDatabaseCommand, DumpData):
        pass

    # python manage.py dumpdata notes --database tenant_acme

Django builds ``--database``'s choices from ``connections`` when the parser is made, and a
tenant's alias is added there only at its first use: ``TenantDatabaseCommand`` keeps Django's
option and widens its choices to the syntactically valid tenant aliases (``TenantAliases``); the
tenant is checked when the command runs (an unknown one is a CommandError naming where tenants
come from), then the command runs inside ``use_tenant(name)``. No object of Django is changed.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from django_cfg.settings.tenant_names import TENANT_ALIAS_PREFIX, tenant_of_alias
from django_cfg.tenants.context import use_tenant
from django_cfg.tenants.errors import UnknownTenantError
from django_cfg.tenants.registry import current_registry

__all__ = [
    "TenantAliases",
    "TenantDatabaseCommand",
    "database_action",
    "not_a_tenant_database",
    "tenant_apps_outside_a_tenant",
    "tenant_of_option",
]


class TenantAliases:
    """The choices of ``--database``: the aliases of ``connections``, and ``tenant_<name>`` for
    any valid tenant name (whether the tenant exists is checked when the command runs, with a
    message that says where tenants come from, rather than argparse's "invalid choice")."""

    def __init__(self, fixed: tuple[str, ...]) -> None:
        self.fixed = fixed

    def __contains__(self, alias: object) -> bool:
        if not isinstance(alias, str):
            return False
        if alias in self.fixed or alias in connections.settings:
            return True
        return tenant_of_alias(alias) is not None and current_registry() is not None

    def __iter__(self) -> Iterator[str]:  # argparse's help and "invalid choice" message
        yield from self.fixed
        if current_registry() is not None:
            yield f"{TENANT_ALIAS_PREFIX}<name>"


def database_action(parser: CommandParser) -> argparse.Action:
    """The ``--database`` option of a Django command's parser (its dest is ``database``)."""
    for action in parser._actions:  # argparse has no public lookup of an option by name
        if "--database" in action.option_strings and action.dest == "database":
            return action
    raise LookupError(f"{parser.prog}: Django's command has no --database option any more")


def tenant_of_option(database: str | None) -> str | None:
    """The tenant ``--database`` names (``tenant_acme`` -> ``acme``), checked to exist; None for
    any other database, and for an alias already open that the registry did not open as a
    tenant's (``move_tenant``'s target, ``tenant_acme__move``); a CommandError for an unknown
    tenant."""
    name = tenant_of_alias(database) if database else None
    registry = current_registry() if name is not None else None
    if name is None or registry is None:
        return None
    if database in connections.settings:  # opened: by the registry, or by a command
        return name if registry.open.get(name) == database else None
    try:
        return registry.check(name)
    except UnknownTenantError as error:
        raise CommandError(f"--database {database}: {error}") from None


def tenant_apps_outside_a_tenant(database: str) -> frozenset[str]:
    """The tenant apps (``TenantsConfig.apps``) whose rows cannot be in ``database``: all of
    them unless ``database`` is a tenant's (``--database tenant_<name>``); none in a project
    without tenants. ``dumpdata`` and ``loaddata`` refuse these: Django would dump ``[]`` and
    load "0 object(s)" (the router keeps a tenant app's rows off every other database)."""
    registry = current_registry()
    if registry is None or tenant_of_option(database) is not None:
        return frozenset()
    return frozenset(registry.apps)


def not_a_tenant_database(named: str, database: str, command: str, every: str) -> CommandError:
    """The error of ``manage.py COMMAND`` given tenant apps' models (``named``) without a
    tenant's database: where their rows are, and the commands that reach them (``every``: how
    to do it for every tenant)."""
    return CommandError(
        f"{named}: a tenant app (TenantsConfig.apps), whose rows are in each tenant's database, "
        f"not in {database!r}. For one tenant: manage.py {command} --database tenant_<name> "
        f"(manage.py list_tenants lists them), or: manage.py tenant_command <name> {command}; "
        f"{every}."
    )


class TenantDatabaseCommand(BaseCommand):
    """A mixin put before one of Django's commands that has ``--database``: tenant aliases are
    accepted, and the command runs with that tenant selected."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        action = database_action(parser)
        action.choices = TenantAliases(tuple(action.choices or connections))
        action.help = (action.help or "") + " A tenant's database: tenant_<name>."
        return parser

    def execute(self, *args: Any, **options: Any) -> Any:
        name = tenant_of_option(options.get("database"))
        if name is None:
            return super().execute(*args, **options)
        with use_tenant(name):
            return super().execute(*args, **options)
