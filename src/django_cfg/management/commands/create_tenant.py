"""``manage.py create_tenant NAME [--url URL] [--adopt]``: create a tenant's database, migrate
it, then make it routable (``django_cfg.tenants.lifecycle``; the same as ``create_tenant()``).

    python manage.py create_tenant acme
    python manage.py create_tenant big_co --url postgresql://app@db2.example.com/t_big_co \
        --replica-url postgresql://app@db2-replica.example.com/t_big_co

The URL holds no password: the tenants table would keep it in plain text. The password comes
from ``TenantsConfig.passwords`` or the template (``django_cfg.tenants.credentials``).

The tenant is recorded first as being created (requests to it get a 404), its database is
created where the engine allows (a SQLite file; CREATE DATABASE on PostgreSQL and MariaDB,
which needs that right), the tenant apps are migrated there, and only then is it routable. A
running server sees the new tenant at its next request: no restart. Interrupted (even by
kill -9), the same command finishes it. A database that already holds tables is refused unless
``--adopt``. Exit status 1: refused or failed (the message says why), "already exists" too.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_cfg.management.tenant_commands import add_tenant_url_option
from django_cfg.tenants.lifecycle import TenantLifecycleError, create_tenant


class Command(BaseCommand):
    help = (
        "Creates a tenant's database, migrates the tenant apps there and makes the tenant "
        "routable; finishes an interrupted creation of the same name."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The tenant's name: a-z, 0-9 and '_', 1 to 63 long.")
        add_tenant_url_option(
            parser, "The tenant's database URL, when not the template's (another server)"
        )
        parser.add_argument(
            "--replica-url",
            action="append",
            default=[],
            dest="replica_urls",
            help="A replica of the tenant's database (repeatable), when not the replica "
            "templates' (TenantsConfig.replica_url); a tenant with --url has only these.",
        )
        parser.add_argument(
            "--adopt",
            action="store_true",
            help="Take over a database that already holds tables (its data becomes the "
            "tenant's); without it such a database is refused.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity: int = options["verbosity"]
        try:
            tenant = create_tenant(
                options["name"],
                url=options["url"],
                replica_urls=options["replica_urls"],
                adopt=options["adopt"],
                verbosity=verbosity,
                stdout=self.stdout,
            )
        except TenantLifecycleError as error:
            raise CommandError(str(error)) from None
        if verbosity >= 1:
            self.stdout.write(
                f"Tenant {tenant.name!r}: database {tenant.database} ({tenant.how}), migrated, "
                "recorded."
            )
            for replica in tenant.replicas:
                self.stdout.write(f"  replica: {replica}")
