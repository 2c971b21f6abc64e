"""``manage.py create_tenant NAME [--url URL]``: create a tenant's database, migrate it, record it.

    python manage.py create_tenant acme
    python manage.py create_tenant big_co --url postgresql://app@db2.example.com/t_big_co \
        --replica-url postgresql://app@db2-replica.example.com/t_big_co

The URL holds no password: the tenants table would keep it in plain text. The password comes
from ``TenantsConfig.passwords`` or the template (``django_cfg.tenants.credentials``).

The database is created where the engine allows (a SQLite file; CREATE DATABASE on PostgreSQL
and MariaDB, which needs that right), the tenant apps are migrated there, and the tenant is
recorded in the tenants table of ``default`` (with ``--url`` when it lives elsewhere than the
template says, and ``--replica-url``, repeatable, for its replicas when not the replica
templates'). A running server sees the new tenant at its next request: no restart.
"""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, DatabaseError

from django_cfg.management.tenant_commands import tenants_registry
from django_cfg.schema.state import redact
from django_cfg.settings.tenants import check_tenant_name
from django_cfg.settings.url import DatabaseURLError
from django_cfg.tenants.credentials import check_storable_url
from django_cfg.tenants.provisioning import create_database


class Command(BaseCommand):
    help = "Creates a tenant's database, migrates the tenant apps there and records the tenant."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The tenant's name: a-z, 0-9 and '_', 1 to 63 long.")
        parser.add_argument(
            "--url",
            help="The tenant's database URL, when not the template's (another server), "
            "without a password (TenantsConfig.passwords or the template's applies).",
        )
        parser.add_argument(
            "--replica-url",
            action="append",
            default=[],
            dest="replica_urls",
            help="A replica of the tenant's database (repeatable), when not the replica "
            "templates' (TenantsConfig.replica_url); a tenant with --url has only these.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from django_cfg.tenants.models import Tenant

        registry = tenants_registry()
        try:
            name = check_tenant_name(options["name"])
            if options["url"]:
                check_storable_url(options["url"])  # unreadable, or with a password: refused
            for url in options["replica_urls"]:
                check_storable_url(url, "--replica-url")
        except (ValueError, DatabaseURLError) as error:
            raise CommandError(str(error)) from None
        if registry.fixed is not None:
            if name not in registry.fixed:
                raise CommandError(
                    f"Tenant {name!r} is not in TenantsConfig.names; this project lists its "
                    "tenants in settings: add it there (create_tenant then creates and migrates "
                    "its database)."
                )
            if options["url"] or options["replica_urls"]:
                raise CommandError(
                    "--url and --replica-url need the tenants table (TenantsConfig.names unset)."
                )
        elif Tenant._default_manager.using(DEFAULT_DB_ALIAS).filter(name=name).exists():
            raise CommandError(f"Tenant {name!r} already exists.")
        else:
            Tenant._default_manager.using(DEFAULT_DB_ALIAS).create(
                name=name, url=options["url"] or "", replica_urls=options["replica_urls"]
            )
        alias = ""
        try:
            alias = registry.alias_for(name)
            created = create_database(alias)
            call_command(
                "migrate_all",
                tenants=[name],
                verbosity=options["verbosity"],
                stdout=self.stdout,
                stderr=self.stderr,
            )
        except (DatabaseError, CommandError, OSError) as error:
            message = redact(alias, str(error)) if alias else str(error)
            if registry.fixed is None:
                registry.forget(name)
                Tenant._default_manager.using(DEFAULT_DB_ALIAS).filter(name=name).delete()
            raise CommandError(f"Tenant {name!r} was not created: {message}") from None
        where = registry.database(name).redacted_url
        state = "created" if created else "already existed"
        self.stdout.write(f"Tenant {name!r}: database {where} ({state}), migrated, recorded.")
        for replica in registry.replica_databases(name):
            self.stdout.write(f"  replica: {replica.redacted_url}")
