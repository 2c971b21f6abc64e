"""Django's ``migrate``, also for a tenant's database, and never silent about the tenants.

    python manage.py migrate --database tenant_acme     # acme's database (the tenant selected)
    python manage.py migrate                            # default; then says that the tenants'
                                                        # databases are migrate_all's

Django's ``migrate`` of a shared database records the tenant apps' migrations there without
running them (their tables are in each tenant's database): in a project with tenant apps it
ends with a notice (stderr, at verbosity >= 1) that ``migrate_all`` migrates every tenant.
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import CommandParser
from django.core.management.commands.migrate import Command as Migrate

from django_cfg.management.tenant_database_option import TenantDatabaseCommand, tenant_of_option
from django_cfg.tenants.registry import current_registry

__all__ = ["Command"]


class Command(TenantDatabaseCommand, Migrate):
    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(  # migrate_all migrates the tenants itself: no notice there
            "--no-tenants-notice",
            action="store_false",
            dest="tenants_notice",
            help=argparse.SUPPRESS,
        )

    def handle(self, *args: Any, **options: Any) -> None:
        super().handle(*args, **options)
        registry = current_registry()
        if (
            registry is None
            or not options.get("tenants_notice", True)
            or options["verbosity"] < 1
            or tenant_of_option(options["database"]) is not None
        ):
            return
        self.stderr.write(
            self.style.WARNING(
                f"The tenant apps ({', '.join(registry.apps)}) were not migrated: their tables "
                f"are in each tenant's database, and this migrate only migrated "
                f"{options['database']!r}. Run: manage.py migrate_all (every database, each "
                "tenant's included), or manage.py migrate --database tenant_<name> for one."
            )
        )
