"""``manage.py drop_tenant NAME [--drop-database] [--noinput]``: forget a tenant.

    python manage.py drop_tenant acme --noinput                   # keeps its database
    python manage.py drop_tenant acme --drop-database --noinput   # and drops it

Removes the tenant's row from the tenants table and its database from this process. Other
running processes stop finding it when they next look it up (a tenant they already opened
stays reachable there until they restart or it is closed for ``max_open``).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, DatabaseError

from django_cfg.management.tenant_commands import (
    add_noinput_argument,
    confirm,
    tenants_registry,
)
from django_cfg.schema.state import redact
from django_cfg.tenants.context import UnknownTenantError
from django_cfg.tenants.provisioning import drop_database


class Command(BaseCommand):
    help = "Removes a tenant from the tenants table (and with --drop-database, its database)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--drop-database",
            action="store_true",
            help="Also drop the tenant's database (its file on SQLite): its data is lost.",
        )
        add_noinput_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        from django_cfg.tenants.models import Tenant

        registry = tenants_registry()
        name = options["name"]
        if registry.fixed is not None:
            raise CommandError(
                "This project lists its tenants in TenantsConfig.names: remove the tenant there."
            )
        try:
            registry.check(name)
        except (UnknownTenantError, ValueError) as error:
            raise CommandError(str(error)) from None
        what = "and DROP ITS DATABASE " if options["drop_database"] else ""
        confirm(options, f"Remove tenant {name!r} {what}?")
        where = registry.database(name).redacted_url
        if options["drop_database"]:
            alias = registry.alias_for(name)
            try:
                drop_database(alias)
            except (DatabaseError, OSError) as error:
                raise CommandError(
                    f"Tenant {name!r}: dropping {where} failed: {redact(alias, str(error))}"
                ) from None
        registry.forget(name)
        Tenant._default_manager.using(DEFAULT_DB_ALIAS).filter(name=name).delete()
        dropped = f"; database {where} dropped" if options["drop_database"] else ""
        self.stdout.write(f"Tenant {name!r} removed{dropped}.")
