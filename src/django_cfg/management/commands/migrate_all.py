"""``manage.py migrate_all``: migrate every database that takes migrations, ``default`` first.

    python manage.py migrate_all                    # all of them
    python manage.py migrate_all --database blog_db --database shop_db
    python manage.py migrate_all --check            # exit 1 if anything is unapplied
    python manage.py migrate_all --plan             # show what would run, apply nothing
    python manage.py migrate_all --parallel 4       # default, then the others at once
    python manage.py migrate_all --tenant acme      # one tenant's database (docs/tenants.md)

Each database gets only the apps routed to it (the router's ``allow_migrate``); replicas and
read-only databases get nothing; the tables of Django's database cache are created on the
database that owns them (``createcachetable``). Runs on one database at a time hold that
database's migration lock, so two concurrent runs never migrate the same database at once.
A run killed half way is finished by the next one (``migration_recovery``), and a database that
fails does not stop the others: they are migrated, then a CommandError names each failure.
makemigrations is never run implicitly. With ``TenantsConfig``, every tenant's database is
migrated after the fixed ones (the tenant apps only), unless ``--database`` or ``--tenant``
selects.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connections

from django_cfg.management.did_you_mean import check_database_option
from django_cfg.management.options import (
    add_database_option,
    add_noinput_option,
    add_parallel_option,
)
from django_cfg.management.output import PassThrough, summary
from django_cfg.management.tenant_databases import (
    add_tenant_option,
    registry_for_option,
    tenant_names,
)
from django_cfg.relations.collector import CrossDatabaseCollector
from django_cfg.relations.roll_forward import finish_abandoned_sweeps
from django_cfg.runtime.runtime import current_runtime
from django_cfg.schema.cache_tables import database_caches_configured, missing_cache_tables
from django_cfg.schema.lock import migration_lock
from django_cfg.schema.recovery import (
    finish_faked,
    may_be_soft_applied,
    recover,
    soft_applied_later,
)
from django_cfg.schema.shared_plan import SharedPlans
from django_cfg.schema.state import (
    PendingMigration,
    pending_migrations,
    redact,
    runs_on,
    unmigrated_changes,
)
from django_cfg.settings.tenant_names import tenant_alias
from django_cfg.state.missing_database import explained
from django_cfg.state.topology import Topology
from django_cfg.tenants.clone import (
    Rows,
    migrate_template,
    recorded_when_migrated,
    sqlite_files,
    sqlite_recorded,
)


def migration_targets(requested: list[str] | None, topology: Topology) -> list[str]:
    """The aliases to migrate, in order; refuses aliases that take no migrations."""
    targets = list(topology.migration_targets)
    if not requested:
        return targets
    check_database_option(requested)
    for alias in requested:
        if alias not in targets:
            role = topology.roles[alias]
            why = (
                f"is a {role.describe()}: its primary's changes reach it by replication"
                if role.replica_of
                else "is read-only"
                if role.read_only
                else "has no apps routed to it"
            )
            raise CommandError(f"Database {alias!r} {why}; it takes no migrations.")
    return [alias for alias in targets if alias in requested]


class Command(BaseCommand):
    help = "Migrates every database that takes migrations (default first), each with its apps."

    def add_arguments(self, parser: CommandParser) -> None:
        add_database_option(
            parser,
            "Only this database (repeatable). Default: every database that takes migrations.",
        )
        add_tenant_option(
            parser,
            "Only this tenant's database (repeatable). Default: every tenant, unless "
            "--database is given.",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            dest="check_unapplied",
            help="Exit with status 1 if any database has unapplied migrations; apply nothing.",
        )
        parser.add_argument(
            "--plan", action="store_true", help="Show the migrations each database would run."
        )
        add_parallel_option(
            parser,
            "Migrate up to N databases at once, after default (each with its own connection "
            "and lock). Default: 1, one after another.",
        )
        add_noinput_option(parser, "Do not prompt the user for input of any kind.")
        parser.add_argument(  # create_tenant makes the template from the new tenant itself
            "--no-template", action="store_false", dest="template", help=argparse.SUPPRESS
        )

    def get_check_kwargs(self, options: dict[str, Any]) -> Any:
        """Also run the database checks (as migrate does) for the databases to migrate."""
        kwargs: dict[Any, Any] = dict(super().get_check_kwargs(options))
        return {
            **kwargs,
            "databases": migration_targets(options["databases"], current_runtime().topology),
        }

    def check(self, *args: Any, **kwargs: Any) -> None:
        """A database that cannot be reached fails its own migration, not everyone's checks."""
        try:
            super().check(*args, **kwargs)
        except DatabaseError:
            # A database check connects (MySQL's sql_mode check): the databases that answer
            # are checked; the others are reported by their migration.
            kwargs["databases"] = [a for a in kwargs.get("databases") or [] if _answers(a)]
            super().check(*args, **kwargs)

    def handle(self, *args: Any, **options: Any) -> None:
        registry = self._registry = registry_for_option(options["tenants"])
        self._tenant_names: dict[str, str] = {}
        self._plans: SharedPlans | None = None
        self._complete: Rows | None = None  # the rows of a migrated tenant database
        self._files: dict[str, str] | None = None  # tenant -> its SQLite file (if it is one)
        if registry is None:
            self._handle(options)
            return
        names = tenant_names(registry, options["tenants"], every=not options["databases"])
        self._tenant_names = {tenant_alias(name): name for name in names}
        if self._tenant_names:
            plans = SharedPlans()
            # Conflicting leaf migrations: migrate refuses them, with its own message.
            self._plans = None if plans.conflicts() else plans
            if self._plans is not None and not database_caches_configured():
                self._complete = recorded_when_migrated(plans.disk)
        self._handle(options, list(self._tenant_names))

    def migrate_tenant_databases(self, aliases: list[str], verbosity: int) -> None:
        """Migrate the open tenant databases ``aliases`` as ``--tenant`` does (``move_tenant``
        migrates a tenant's new database with it); CommandError naming the failures."""
        options = {
            "databases": None,
            "tenants": aliases,
            "check_unapplied": False,
            "plan": False,
            "parallel": 1,
            "interactive": False,
            "verbosity": verbosity,
        }
        self._registry, self._tenant_names, self._plans = None, {}, None  # open already
        self._complete, self._files = None, None
        self._handle(options, aliases)

    @contextmanager
    def _opened(self, alias: str) -> Iterator[None]:
        """``alias`` usable in the block: a tenant's database is opened, kept open while the
        block runs, then its connection is closed (``max_open`` may remove it then)."""
        name = self._tenant_names.get(alias)
        if name is None or self._registry is None:
            yield
            return
        try:
            self._registry.pin(name)
        except (ValueError, DatabaseError, OSError) as error:  # DatabaseURLError included
            raise CannotOpen(f"cannot open its database: {error}") from error
        try:
            yield
        finally:
            try:
                connections[alias].close()
            finally:
                self._registry.unpin(name)

    def _handle(
        self,
        options: dict[str, Any],
        tenants: list[str] | None = None,
    ) -> None:
        topology = current_runtime().topology
        fixed = options["databases"] or not options["tenants"]  # --tenant alone: no fixed one
        targets = migration_targets(options["databases"], topology) if fixed else []
        targets += tenants or []
        verbosity: int = options["verbosity"]
        failures: dict[str, str] = {}
        self._outcomes: dict[str, str] = {}  # alias -> "migrated" / "up to date"
        self._recorded_elsewhere = False
        self._verbosity = verbosity
        if options["check_unapplied"]:
            self._check(targets, verbosity, failures)
            return
        if options["plan"]:
            self._plan_each(targets, failures)
            return
        if options["parallel"] > 1 and len(targets) > 2:
            self._migrate_in_parallel(targets, topology, options, failures)
        else:
            for alias in targets:
                self._migrate(alias, topology, options, failures)
        self._say_recorded_elsewhere(verbosity)
        self._say_unmigrated_changes(verbosity)
        if tenants and not failures:
            self._finish_shared_deletes(verbosity)
            if options.get("template", True):
                self._migrate_template(verbosity)
        # One database's failure does not stop the others; the exit status says it.
        self._raise_for({alias: failures[alias] for alias in targets if alias in failures})

    def _plan_each(self, targets: list[str], failures: dict[str, str]) -> None:
        """``--plan``: what each database would run; a CommandError naming those that could
        not be planned."""
        for alias in targets:
            try:
                with self._opened(alias):
                    self._plan(alias)
                self._outcomes[alias] = "planned"
            except (CannotOpen, DatabaseError) as error:
                failures[alias] = self._failed(alias, error)
        self._raise_for(failures, "could not be planned")

    def _migrate_in_parallel(
        self,
        targets: list[str],
        topology: Topology,
        options: dict[str, Any],
        failures: dict[str, str],
    ) -> None:
        """``default`` first (the others' rows reference its tables), then the rest at once,
        ``--parallel`` at a time."""
        first, *rest = targets if targets[0] == "default" else ["", *targets]
        if first:
            self._migrate(first, topology, options, failures)
        with ThreadPoolExecutor(max_workers=options["parallel"]) as pool:
            for run in [
                pool.submit(self._migrate_in_thread, alias, topology, options, failures)
                for alias in rest
            ]:
                run.result()

    def _finish_shared_deletes(self, verbosity: int) -> None:
        """Finish the tenant sweeps of shared deletes that a crash left (each deploy runs
        migrate_all: an abandoned sweep waits at most until then, or the next shared delete)."""
        finished = finish_abandoned_sweeps(CrossDatabaseCollector)
        if finished and verbosity >= 1:
            self.stdout.write(
                f"Finished {finished} shared delete{'s' * (finished != 1)} whose tenant sweep a "
                "crash had left (on_delete applied in every tenant)."
            )

    def _migrate_template(self, verbosity: int) -> None:
        """The template new tenants are copied from (``tenants.clone``), if it exists and is
        behind, migrated as the tenants were."""
        if self._registry is None:
            return
        try:
            done = migrate_template(self._registry, verbosity)
        except Exception as error:  # the next create_tenant migrates and makes it again
            self.stderr.write(
                self.style.WARNING(
                    f"The tenants' template database could not be migrated: {error}; new "
                    "tenants are migrated (and the template made again) until it is."
                )
            )
            return
        if done and verbosity >= 1:
            self.stdout.write(f"The tenants' template database (new tenants' copy): {done}.")

    def _raise_for(self, failures: dict[str, str], what: str = "failed to migrate") -> None:
        """A CommandError with the counts and one line per failure, if any failed."""
        if not failures:
            return
        counts = Counter(self._outcomes[alias] for alias in self._outcomes)
        total = len(failures) + sum(counts.values())
        raise CommandError(
            f"{len(failures)} of {total} database{'s' * (total != 1)} {what}; "
            + summary(counts, failures)
        )

    def _failed(self, alias: str, error: Exception) -> str:
        """Why ``alias`` failed (passwords replaced); at -v 1 and more, said on stderr as it
        happens (the CommandError at the end lists every failure)."""
        why = str(error) if isinstance(error, CannotOpen) else _described(alias, error)
        if self._verbosity >= 1:
            self.stderr.write(self.style.ERROR(f"{alias}: {why}"))
        return why

    def _say_recorded_elsewhere(self, verbosity: int) -> None:
        """Once, at -v 1 (-v 2 counts them on each database's line)."""
        if self._recorded_elsewhere and verbosity == 1:
            self.stdout.write(
                "Each database also recorded the migrations of the apps that live on other "
                "databases (rows in django_migrations, no tables); -v 2 counts them."
            )

    def _say_unmigrated_changes(self, verbosity: int) -> None:
        """Django's migrate notice of model changes without a migration, once per run (the
        per-database migrate runs quietly, and Django says it only when nothing was applied)."""
        changes = unmigrated_changes() if verbosity >= 1 else {}
        if changes:
            labels = ", ".join(repr(label) for label in changes)
            self.stdout.write(
                self.style.NOTICE(
                    f"  Your models in app(s): {labels} have changes that are not yet reflected "
                    "in a migration, and so won't be applied."
                )
            )
            self.stdout.write(
                self.style.NOTICE(
                    "  Run 'manage.py makemigrations' to make new migrations, and then re-run "
                    "'manage.py migrate_all' to apply them."
                )
            )

    def _migrate_in_thread(
        self, alias: str, topology: Topology, options: dict[str, Any], failures: dict[str, str]
    ) -> None:
        try:
            # Django's own per-database output would interleave: it is kept to ours.
            options = {**options, "verbosity": min(options["verbosity"], 1)}
            self._migrate(alias, topology, options, failures)
        finally:
            connections.close_all()

    def _check(self, targets: list[str], verbosity: int, failures: dict[str, str]) -> None:
        for alias in targets:
            try:
                with self._opened(alias):
                    pending = pending_migrations(alias)
                    no_cache_table = missing_cache_tables(alias)
            except (CannotOpen, DatabaseError) as error:
                failures[alias] = self._failed(alias, error)
                continue
            behind = bool(pending or no_cache_table)
            self._outcomes[alias] = "behind" if behind else "up to date"
            if verbosity >= 1:
                line = f"{alias}: {self._summary(pending, 'unapplied', verbosity)}"
                if no_cache_table:
                    line += f"; cache table missing: {', '.join(no_cache_table)}"
                self.stdout.write(line)
        if failures:
            self._raise_for(failures, "could not be checked")
        if "behind" in self._outcomes.values():
            sys.exit(1)

    def _plan(self, alias: str) -> None:
        """What will run on ``alias``: the migrations of the apps that live there, one header."""
        from django.core.management.commands.migrate import Command as Migrate
        from django.db.migrations.executor import MigrationExecutor

        self.stdout.write(self.style.MIGRATE_HEADING(f"Planned operations on {alias}:"))
        executor = MigrationExecutor(connections[alias])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        faked = {found.migration for found in soft_applied_later(alias)}
        shown = 0
        for migration, backwards in plan:
            if not runs_on(alias, migration):
                continue  # recorded there, but its tables live on another database
            name = f"{migration.app_label}.{migration.name}"
            self.stdout.write(self.style.MIGRATE_LABEL(name))
            if name in faked:
                self.stdout.write("    Record as applied: its tables already exist")
                shown += 1
                continue
            for operation in migration.operations:
                message, is_error = Migrate.describe_operation(operation, backwards)
                self.stdout.write("    " + message, self.style.WARNING if is_error else None)
            shown += 1
        for table in missing_cache_tables(alias):
            self.stdout.write(self.style.MIGRATE_LABEL("createcachetable"))
            self.stdout.write(f"    Create cache table {table}")
            shown += 1
        if not shown:
            self.stdout.write("  No planned migration operations.")

    def _migrate(
        self, alias: str, topology: Topology, options: dict[str, Any], failures: dict[str, str]
    ) -> None:
        verbosity: int = options["verbosity"]

        def waiting() -> None:
            if verbosity >= 1:
                self.stdout.write(f"{alias}: waiting for another migrate_all to finish...")

        started = time.perf_counter()
        if self._recorded_in_file(alias):  # nothing to apply: its file was not even opened
            self._outcomes[alias] = "up to date"
            if verbosity >= 1:
                self.stdout.write(f"{alias}: up to date ({time.perf_counter() - started:.2f}s)")
            return
        try:
            with self._opened(alias), migration_lock(alias, wait=waiting):
                done = self._migrate_locked(alias, options)
        except CannotOpen as error:
            failures[alias] = self._failed(alias, error)
            return
        except Exception as error:
            failed_after = time.perf_counter() - started
            failures[alias] = self._failed(
                alias,
                MigrateFailed(
                    f"migrate failed after {failed_after:.2f}s: " + _described(alias, error)
                ),
            )
            return
        pending, cache_created = done
        changed = bool(pending or cache_created)
        self._outcomes[alias] = "migrated" if changed else "up to date"
        if verbosity >= 1:
            line = self._summary(pending, "applied", verbosity)
            if cache_created:
                line += f"; cache table created: {', '.join(cache_created)}"
            took = f"({time.perf_counter() - started:.2f}s)"
            name = self.style.SUCCESS(alias) if changed else alias
            self.stdout.write(f"{name}: {line} {took}")

    def _recorded_in_file(self, alias: str) -> bool:
        """Whether tenant ``alias``'s database is a SQLite file whose ``django_migrations``
        has every migration of the graph (one query, the tenant not opened): nothing to apply,
        so no lock, no pre_migrate / post_migrate (Django's migrate sends them even then).
        Database caches on tenant databases: no (createcachetable may have to run)."""
        name = self._tenant_names.get(alias)
        if name is None or self._registry is None or self._complete is None:
            return False
        if self._files is None:
            try:
                self._files = sqlite_files(self._registry)
            except (ValueError, DatabaseError):
                self._files = {}
        path = self._files.get(name)
        return path is not None and self._complete.current(sqlite_recorded(path), exact=False)

    def _migrate_locked(
        self, alias: str, options: dict[str, Any]
    ) -> tuple[list[PendingMigration], list[str]]:
        verbosity: int = options["verbosity"]
        if self._plans is not None and alias in self._tenant_names:
            pending_here = self._migrate_shared(alias, verbosity)
            if pending_here is not None:
                return pending_here, self._create_cache_tables(alias, verbosity)
        pending = pending_migrations(alias)
        # What a run killed half way left (applied, not recorded) is finished first.
        recovered = recover(alias)
        later = soft_applied_later(alias)
        if verbosity >= 1:
            for found in [*recovered, *later]:
                self.stdout.write(self.style.WARNING(found.describe()))
        output = PassThrough(self.stdout) if verbosity >= 2 else io.StringIO()
        if verbosity >= 2:
            self.stdout.write(self.style.MIGRATE_HEADING(f"Migrating {alias}:"))
        call_command(
            "migrate",
            database=alias,
            interactive=options["interactive"],
            fake_initial=bool(later),
            skip_checks=True,
            tenants_notice=False,
            verbosity=max(verbosity - 1, 0),
            stdout=output,
        )
        created = finish_faked(alias, later)
        if verbosity >= 1 and created:
            self.stdout.write(
                self.style.WARNING(
                    f"{alias}: created what faked migrations lacked: {', '.join(created)}"
                )
            )
        return pending, self._create_cache_tables(alias, verbosity)

    def _migrate_shared(self, alias: str, verbosity: int) -> list[PendingMigration] | None:
        """A tenant's migrations from the plan shared by the tenants (``SharedPlans``); None
        when its tables exist without their rows: ``migrate --fake-initial`` does that one."""
        assert self._plans is not None
        connection = connections[alias]
        plan = self._plans.plan_for(connection)
        if may_be_soft_applied(connection, [migration for migration, _ in plan.migrations]):
            return None
        if verbosity >= 2:
            self.stdout.write(self.style.MIGRATE_HEADING(f"Migrating {alias}:"))

        finished: list[Any] = []

        def progress(migration: Any) -> None:
            finished.append(migration)
            if verbosity >= 2:
                self.stdout.write(f"  Applying {migration.app_label}.{migration.name}... OK")

        output = PassThrough(self.stdout) if verbosity >= 2 else io.StringIO()
        try:
            self._plans.apply(connection, plan, max(verbosity - 1, 0), output, progress)
        except Exception as error:
            if len(finished) >= len(plan.migrations):
                raise  # after the migrations (post_migrate): as migrate reports it
            failing = plan.migrations[len(finished)][0]
            raise MigrateFailed(
                f"{failing.app_label}.{failing.name}: {_described(alias, error)}"
            ) from error
        return plan.pending(alias)

    def _summary(self, pending: list[PendingMigration], verb: str, verbosity: int) -> str:
        """``2 applied: blog.0001_initial, blog.0002_x``; the migrations recorded for apps that
        live elsewhere are counted at -v 2 and said once at the end at -v 1."""
        if not pending:
            return "up to date"
        here = [(app, name) for app, name, runs_here in pending if runs_here]
        elsewhere = len(pending) - len(here)
        if len(here) <= 3:
            listed = ", ".join(f"{app}.{name}" for app, name in here)
        else:
            per_app = Counter(app for app, _name in here)
            listed = ", ".join(f"{app} ({count})" for app, count in sorted(per_app.items()))
        text = f"{len(here)} {verb}" + (f": {listed}" if listed else "")
        if elsewhere and verbosity >= 2:
            text += f" (+{elsewhere} recorded for apps that live on other databases)"
        self._recorded_elsewhere = self._recorded_elsewhere or bool(elsewhere)
        return text

    def _create_cache_tables(self, alias: str, verbosity: int) -> list[str]:
        missing = missing_cache_tables(alias)
        if missing:
            output = PassThrough(self.stdout) if verbosity >= 2 else io.StringIO()
            call_command(
                "createcachetable", database=alias, verbosity=max(verbosity - 1, 0), stdout=output
            )
        return missing


class CannotOpen(Exception):
    """A tenant's database could not be added to this process (its URL, its server)."""


class MigrateFailed(Exception):
    """Migrating one database failed; the message says after how long and why."""


def _answers(alias: str) -> bool:
    try:
        connections[alias].ensure_connection()
    except DatabaseError:
        return False
    return True


def _described(alias: str, error: Exception) -> str:
    """``error`` on one line, the fix for a missing database, no password of ``alias``."""
    if isinstance(error, MigrateFailed):
        return str(error)
    return redact(alias, explained(error, connections.settings[alias]))
