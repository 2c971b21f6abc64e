"""``manage.py drop_tenant NAME [--drop-database] [--noinput]``: forget a tenant.

    python manage.py drop_tenant acme --noinput                   # keeps its database
    python manage.py drop_tenant acme --drop-database --noinput   # and drops it

Removes the tenant's row from the tenants table (a half-created tenant's too) and its database
from this process, and says what became of the database: dropped, or kept with its data at a
place it names (``create_tenant`` of the name refuses that database unless ``--adopt``). Other
running processes stop finding the tenant when they next look it up (a tenant they already
opened stays reachable there until they restart or it is closed for ``max_open``). The same as
``django_cfg.tenants.drop_tenant()``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_cfg.management.options import add_noinput_option
from django_cfg.management.tenant_commands import confirm
from django_cfg.tenants.lifecycle import TenantLifecycleError, drop_tenant


class Command(BaseCommand):
    help = "Removes a tenant from the tenants table (and with --drop-database, its database)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--drop-database",
            action="store_true",
            help="Also drop the tenant's database (its file on SQLite): its data is lost.",
        )
        add_noinput_option(parser, "Do not ask for confirmation.")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"]
        what = "and DROP ITS DATABASE " if options["drop_database"] else ""
        confirm(options, f"Remove tenant {name!r} {what}?")
        try:
            dropped = drop_tenant(name, drop_database=options["drop_database"])
        except TenantLifecycleError as error:
            raise CommandError(str(error)) from None
        if options["verbosity"] < 1:
            return
        if dropped.dropped:
            self.stdout.write(f"Tenant {name!r} removed; database {dropped.database} dropped.")
        elif options["drop_database"]:
            self.stdout.write(
                f"Tenant {name!r} removed: a creation interrupted before it made its database. "
                f"Whatever is at {dropped.database} is not its own and is kept (perhaps an "
                "earlier tenant's data): drop it yourself if no longer needed."
            )
        else:
            self.stdout.write(
                f"Tenant {name!r} removed; its database {dropped.database} is kept, with its "
                f"data (drop it yourself when no longer needed; create_tenant {name} refuses "
                "it unless --adopt)."
            )
