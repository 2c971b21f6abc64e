"""``manage.py list_tenants [--json]``: every tenant, its state, its database and its domains.

    python manage.py list_tenants
    # name  state  database                          domains
    # acme  ready  sqlite:///tenants/acme.sqlite3     acme.com
    python manage.py list_tenants --json
    # [{"name": "acme", "state": "ready", "database": "sqlite:///tenants/acme.sqlite3",
    #   "size": 151552, "domains": ["acme.com"]}]

The tenants of ``TenantsConfig.names``, or every row of the tenants table (those being created
or moved too: ``state`` says so). ``database`` is the URL without its password; ``size`` is in
bytes where it costs no connection (a SQLite file), else null. Nothing is opened or migrated.
"""

from __future__ import annotations

import json
import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import DEFAULT_DB_ALIAS

from django_cfg.management.tenant_commands import tenants_registry
from django_cfg.settings.database_config import DatabaseConfig
from django_cfg.tenants.registry import TenantRegistry

COLUMNS = ("name", "state", "database", "domains")


class Command(BaseCommand):
    help = "Lists the tenants: name, state, database (no password), domains."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--json",
            action="store_true",
            help="A JSON list: name, state, database, size (bytes, SQLite only), domains.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tenants = described_tenants(tenants_registry())
        if options["json"]:
            self.stdout.write(json.dumps(tenants, indent=2))
            return
        if not tenants:
            if options["verbosity"] >= 1:
                self.stdout.write("No tenants (create one with: manage.py create_tenant NAME).")
            return
        rows = [COLUMNS] + [
            (t["name"], t["state"], t["database"], ", ".join(t["domains"])) for t in tenants
        ]
        widths = [max(len(row[column]) for row in rows) for column in range(len(COLUMNS))]
        for number, row in enumerate(rows):
            line = "  ".join(t.ljust(w) for t, w in zip(row, widths, strict=True)).rstrip()
            self.stdout.write(self.style.MIGRATE_HEADING(line) if number == 0 else line)


def described_tenants(registry: TenantRegistry) -> list[dict[str, Any]]:
    """Each tenant as ``list_tenants --json`` shows it, sorted by name."""
    if registry.fixed is not None:
        by_tenant: dict[str, list[str]] = {}
        for domain, name in sorted(registry.domains.fixed.items()):
            by_tenant.setdefault(name, []).append(domain)
        return [
            _described(registry.database_at(name, ""), name, "ready", by_tenant.get(name, []))
            for name in sorted(registry.fixed)
        ]
    from django_cfg.tenants.models import Tenant

    rows = Tenant._default_manager.using(DEFAULT_DB_ALIAS).order_by("name")
    return [
        _described(
            registry.database_at(row.name, row.url),
            row.name,
            row.state or "ready",
            list(row.domains or ()),
        )
        for row in rows
    ]


def _described(
    database: DatabaseConfig, name: str, state: str, domains: list[str]
) -> dict[str, Any]:
    return {
        "name": name,
        "state": state,
        "database": database.redacted_url,
        "size": _file_size(database),
        "domains": domains,
    }


def _file_size(database: DatabaseConfig) -> int | None:
    """A SQLite database's file size in bytes (None: another engine, or no file yet)."""
    if database.family != "sqlite":
        return None
    path = str(database.to_django(getattr(settings, "BASE_DIR", None))["NAME"])
    try:
        return os.path.getsize(path)
    except OSError:
        return None
