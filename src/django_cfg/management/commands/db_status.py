"""``manage.py db_status``: each database's role, apps, reachability, latency, migrations, lag.

    python manage.py db_status
    python manage.py db_status --json       # for monitoring; same fields

Exits with status 1 when a primary database is unhealthy: it cannot be reached, or cannot be
read (a corrupt SQLite file), or its migrations cannot be read. ``-v 0`` prints only that
error; ``-v 1`` one section per database and a count of each state; ``-v 2`` also the names of
the unapplied migrations. Passwords are never shown.
With ``TenantsConfig``, every tenant's database follows (role ``tenant``), each followed by
its replicas (role ``replica of tenant_<name>``, with their lag).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_cfg.management.output import summary
from django_cfg.management.tenant_databases import TenantDatabases, selected_tenants
from django_cfg.runtime.runtime import current_runtime
from django_cfg.schema.status import DatabaseStatus, database_statuses, probe
from django_cfg.settings.url import shown_servers
from django_cfg.state.topology import TENANT_HOME


class Command(BaseCommand):
    help = "Shows each database: role, routed apps, reachability, latency, pending migrations."
    requires_system_checks = ()  # a diagnosis must run on a broken configuration too

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the statuses as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        statuses = database_statuses()
        with selected_tenants(None, every=True) as tenants:
            statuses += self._tenant_statuses(tenants)
        verbosity: int = options["verbosity"]
        if options["json"]:
            self.stdout.write(json.dumps([s.as_dict() for s in statuses], indent=2))
        elif verbosity >= 1:
            for status in statuses:
                self._write(status, verbosity)
        failed = {s.alias: s.error or "" for s in statuses if s.is_primary and not s.healthy}
        counts = Counter(_state(s) for s in statuses if s.alias not in failed)
        if failed:
            raise CommandError(
                f"{len(failed)} primary database{'s' * (len(failed) != 1)} unhealthy; "
                + summary(counts, failed)
            )
        if verbosity >= 1 and not options["json"]:
            self.stdout.write(
                self.style.SUCCESS(f"{len(statuses)} databases: {summary(counts, {})}")
            )

    @staticmethod
    def _tenant_statuses(tenants: TenantDatabases) -> list[DatabaseStatus]:
        topology = current_runtime().topology
        labels = sorted(label for label, home in topology.homes.items() if home == TENANT_HOME)
        statuses = []
        for alias in tenants.aliases:
            if alias in tenants.failures:
                statuses.append(
                    DatabaseStatus(
                        alias=alias,
                        engine="",
                        host="",
                        port="",
                        name="",
                        role="tenant",
                        apps=labels,
                        is_primary=True,
                        error=tenants.failures[alias],
                    )
                )
                continue
            topology = current_runtime().topology
            statuses.append(probe(alias, topology, tenant_apps=labels))
            statuses += [
                probe(replica.alias, topology, tenant_apps=labels)
                for replica in topology.replicas_of(alias)
            ]
        return statuses

    def _write(self, status: DatabaseStatus, verbosity: int) -> None:
        servers = shown_servers(status.host, status.port or None)
        where = status.name if not status.host else f"{servers}/{status.name}"
        self.stdout.write(self.style.MIGRATE_HEADING(f"{status.alias}"), ending="")
        self.stdout.write(f"  {status.engine.rsplit('.', 1)[-1]}  {where}")
        self.stdout.write(f"  role: {status.role}")
        self.stdout.write(f"  apps: {', '.join(status.apps) or '(none)'}")
        if status.reachable:
            self.stdout.write(
                f"  reachable: {self.style.SUCCESS('yes')} ({status.latency_ms:.2f} ms round trip)"
            )
            if status.error is not None:
                self.stdout.write(f"  healthy: {self.style.ERROR('no')}  {status.error}")
        else:
            self.stdout.write(f"  reachable: {self.style.ERROR('no')}  {status.error}")
        if status.lag_bytes is not None:
            self.stdout.write(f"  replication lag: {status.lag_bytes} bytes of WAL to replay")
        elif status.lag_error is not None:
            self.stdout.write(f"  replication lag: unknown ({status.lag_error})")
        if status.pending is not None:
            if not status.pending:
                self.stdout.write("  migrations: up to date")
            else:
                shown = ", ".join(status.pending) if verbosity >= 2 else ""
                self.stdout.write(
                    self.style.WARNING(f"  migrations: {len(status.pending)} unapplied")
                    + (f": {shown}" if shown else " (run manage.py migrate_all)")
                )


def _state(status: DatabaseStatus) -> str:
    """How a database that did not fail is counted in the summary."""
    if not status.healthy:
        return "unhealthy replicas" if not status.is_primary else "unhealthy"
    if status.pending:
        return "healthy, with unapplied migrations"
    return "healthy"
