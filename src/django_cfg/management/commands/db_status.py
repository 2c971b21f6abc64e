"""``manage.py db_status``: each database's role (configured, and as the server says it),
apps, reachability, latency, migrations, replication lag (seconds and bytes), paused replay.

    python manage.py db_status
    python manage.py db_status --json       # for monitoring; same fields
    python manage.py db_status --timeout 2  # seconds to connect to a server (default 5)

Every server is probed at once: a dead or hung server costs one timeout (a hung one about twice:
connect, then the queries), however many there are. Exit status:

- 0: healthy;
- 1: a primary is unhealthy: it cannot be reached, cannot be read (a corrupt SQLite file), its
  migrations cannot be read, or the server says it is a standby (writes would fail);
- 3: degraded: a replica is down, lagging (beyond its ``max_lag_seconds`` / ``max_lag_bytes``,
  else 30 s), has its replay paused or was promoted (then "the replica is now a primary; ...
  has no standby left"), or a server of a multi-host URL is down.

``-v 0`` prints only the error; ``-v 1`` one section per database and a count of each state;
``-v 2`` also the names of the unapplied migrations. Passwords are never shown.
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
from django_cfg.schema.status import (
    CONNECT_TIMEOUT_SECONDS,
    DatabaseStatus,
    ServerStatus,
    probe_all,
)
from django_cfg.settings.url import shown_servers
from django_cfg.state.topology import TENANT_HOME

DEGRADED_EXIT_STATUS = 3


class Command(BaseCommand):
    help = "Shows each database: role, routed apps, reachability, latency, pending migrations."
    requires_system_checks = ()  # a diagnosis must run on a broken configuration too

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the statuses as JSON.")
        parser.add_argument(
            "--timeout",
            type=float,
            default=CONNECT_TIMEOUT_SECONDS,
            help=f"Seconds to connect to each server (default {CONNECT_TIMEOUT_SECONDS}); all "
            "are probed at once, so a hung one costs about twice this, however many there are.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        timeout: float = options["timeout"]
        if timeout <= 0:
            raise CommandError(f"--timeout must be a positive number of seconds, not {timeout}.")
        aliases = current_runtime().topology.aliases
        targets: list[tuple[str, list[str] | None]] = [(alias, None) for alias in aliases]
        with selected_tenants(None, every=True) as tenants:
            failed_tenants = self._tenant_targets(tenants, targets)
            statuses = probe_all(targets, current_runtime().topology, timeout=timeout)
        statuses += failed_tenants
        verbosity: int = options["verbosity"]
        if options["json"]:
            self.stdout.write(json.dumps([s.as_dict() for s in statuses], indent=2))
        elif verbosity >= 1:
            for status in statuses:
                self._write(status, verbosity)
        self._conclude(statuses, show=verbosity >= 1 and not options["json"])

    def _conclude(self, statuses: list[DatabaseStatus], show: bool) -> None:
        """The summary; CommandError (exit 1) for an unhealthy primary, exit 3 when degraded."""
        failed = {s.alias: s.error or "" for s in statuses if s.is_primary and not s.healthy}
        counts = Counter(_state(s) for s in statuses if s.alias not in failed)
        if failed:
            raise CommandError(
                f"{len(failed)} primary database{'s' * (len(failed) != 1)} unhealthy; "
                + summary(counts, failed)
            )
        degraded = {s.alias: _why_degraded(s) for s in statuses if _why_degraded(s)}
        if degraded:
            raise CommandError(
                f"{len(degraded)} database{'s' * (len(degraded) != 1)} degraded; "
                + summary(counts, {})
                + "\n"
                + "\n".join(f"  {alias}: {why}" for alias, why in degraded.items()),
                returncode=DEGRADED_EXIT_STATUS,
            )
        if show:
            self.stdout.write(
                self.style.SUCCESS(f"{len(statuses)} databases: {summary(counts, {})}")
            )

    @staticmethod
    def _tenant_targets(
        tenants: TenantDatabases, targets: list[tuple[str, list[str] | None]]
    ) -> list[DatabaseStatus]:
        """Add each tenant database and its replicas to ``targets``; the statuses of those that
        could not even be opened."""
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
            targets.append((alias, labels))
            targets += [(replica.alias, labels) for replica in topology.replicas_of(alias)]
        return statuses

    def _write(self, status: DatabaseStatus, verbosity: int) -> None:
        servers = shown_servers(status.host, status.port or None)
        where = status.name if not status.host else f"{servers}/{status.name}"
        self.stdout.write(self.style.MIGRATE_HEADING(f"{status.alias}"), ending="")
        self.stdout.write(f"  {status.engine.rsplit('.', 1)[-1]}  {where}")
        self.stdout.write(f"  role: {status.role}" + _server_says(status))
        self.stdout.write(f"  apps: {', '.join(status.apps) or '(none)'}")
        if status.reachable:
            self.stdout.write(
                f"  reachable: {self.style.SUCCESS('yes')} ({status.latency_ms:.2f} ms round trip)"
            )
            if status.error is not None:
                self.stdout.write(f"  healthy: {self.style.ERROR('no')}  {status.error}")
        else:
            self.stdout.write(f"  reachable: {self.style.ERROR('no')}  {status.error}")
        lag = _lag(status.lag_seconds, status.lag_bytes)
        if status.lag_error is not None:
            told = f"; the replica says {status.lag_seconds:.2f} s" if lag else ""
            self.stdout.write(f"  replication lag: unknown ({status.lag_error}){told}")
        elif lag:
            self.stdout.write(f"  replication lag: {lag}")
        for server in status.servers:
            self.stdout.write(f"  server {server.address}: {_server_line(server)}")
        for problem in status.problems:
            self.stdout.write(self.style.WARNING(f"  degraded: {problem}"))
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
    if status.problems:
        return "degraded"
    if status.pending:
        return "healthy, with unapplied migrations"
    return "healthy"


def _why_degraded(status: DatabaseStatus) -> str | None:
    """Why a database that is not a failed primary degrades the whole (exit 3), or None."""
    if not status.healthy and not status.is_primary:
        return f"unreachable: {status.error}"
    return "; ".join(status.problems) or None


def _server_says(status: DatabaseStatus) -> str:
    """`` (the server: standby, replay paused)``: what the server says it is."""
    if status.server_role is None:
        return ""
    return f" (the server: {status.server_role}" + (
        ", replay paused)" if status.replay_paused else ")"
    )


def _lag(seconds: float | None, lag_bytes: int | None) -> str:
    """``1.50 s, 225600 bytes of WAL to replay``, or empty when neither is known."""
    parts = []
    if seconds is not None:
        parts.append(f"{seconds:.2f} s")
    if lag_bytes is not None:
        parts.append(f"{lag_bytes} bytes of WAL to replay")
    return ", ".join(parts)


def _server_line(server: ServerStatus) -> str:
    if not server.reachable:
        return f"unreachable  {server.error}"
    line = str(server.server_role)
    if server.replay_paused:
        line += ", replay paused"
    lag = _lag(server.lag_seconds, server.lag_bytes)
    return f"{line}, lag {lag}" if lag else line
