"""Django's ``shell`` with a tenant selected: ``--database tenant_<name>``.

    python manage.py shell --database tenant_acme
    >>> Note.objects.count()          # acme's notes: the tenant is selected in the shell

Django's ``shell`` has no ``--database``; this one adds it (a tenant's alias selects the tenant
for the whole session, ``-c`` commands included; any other alias changes nothing).
"""

from __future__ import annotations

from django.core.management.base import CommandParser
from django.core.management.commands.shell import Command as Shell
from django.db import DEFAULT_DB_ALIAS, connections

from django_cfg.management.tenant_database_option import TenantAliases, TenantDatabaseCommand


class Command(TenantDatabaseCommand, Shell):
    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--database",
            default=DEFAULT_DB_ALIAS,
            choices=TenantAliases(tuple(connections)),
            help="Run the shell with a tenant selected.",
        )
