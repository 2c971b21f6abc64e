"""``manage.py move_tenant NAME --url URL``: move a tenant's database, read-only meanwhile.

    python manage.py move_tenant acme --url postgresql://app@db2.example.com/t_acme --noinput
    python manage.py move_tenant acme --url ... --drop-source    # and drop the old database
    python manage.py move_tenant acme --abort                     # after a killed move

1. The tenant's row is marked as being moved: every process that uses the tenant reopens its
   database read-only at its next use after ``TenantsConfig.recheck_seconds`` (a write is
   refused with a message naming the tenant and the move).
2. The source is fenced (``django_cfg.tenants.fence``): a trigger on each of its tables refuses
   every write, from any process and connection, once the writes in flight are committed.
   The command then waits ``recheck_seconds`` + 1 s (processes go read-only: clearer errors).
3. The new database is created (where the engine allows) and migrated (migrate_all's engine).
4. Every table of the tenant apps (and the delete intents) is copied, primary keys kept, in
   batches, in one transaction (``django_cfg.tenants.row_copy``), any engine to any engine.
5. Row counts and primary-key checksums are compared per table, the source counted again.
6. The row gets the new URL (without a password) and becomes writable: processes reopen the
   tenant at its new URL at their next use after ``recheck_seconds``. The old database keeps
   its fence: a process that has not seen the switch yet gets its writes refused, never lost.

Refused before anything is marked or opened: a target that is another tenant's database or
replica (compared by ``tenants.production.database_identity``). Refused after step 3, before
anything is written there: a target holding rows, or fenced by another tenant's move (the fence
of an earlier move of this tenant away from it is removed).

Any failure (or Ctrl-C) before the switch removes the fence and leaves the tenant on its source,
writable again, and drops the new database if this run created it; the exit status is 1 and
the message names the tables and counts that differ (or that the tenant was dropped meanwhile).
When the tenant is writable again (switched, given back, ``--abort``), the shared deletes whose
sweep its fence refused are finished (``finish_abandoned_sweeps``). Only for tenants of the
tenants table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, NoReturn, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import F, Model

from django_cfg.management.commands.migrate_all import Command as MigrateAll
from django_cfg.management.options import add_noinput_option
from django_cfg.management.tenant_commands import (
    add_tenant_url_option,
    confirm,
    tenants_registry,
)
from django_cfg.management.tenant_databases import tenant_names
from django_cfg.relations.collector import CrossDatabaseCollector
from django_cfg.relations.roll_forward import finish_abandoned_sweeps
from django_cfg.runtime.added_databases import add_database, remove_database
from django_cfg.schema.state import redact
from django_cfg.settings.database_config import DatabaseConfig
from django_cfg.settings.tenant_names import tenant_alias
from django_cfg.settings.url import DatabaseURLError
from django_cfg.tenants.credentials import check_storable_url
from django_cfg.tenants.fence import fence, fences_without, unfence
from django_cfg.tenants.models import MOVING
from django_cfg.tenants.production import config_identity, tenant_databases
from django_cfg.tenants.provisioning import create_database, database_exists, drop_database
from django_cfg.tenants.registry import TenantRegistry
from django_cfg.tenants.row_copy import (
    TableCheck,
    compare,
    copy_rows,
    tenant_models,
    tenant_tables,
)


class MoveFailed(Exception):
    """A step of the move failed; the message says which and why (no password in it)."""


@dataclass
class _Move:
    """One move of tenant ``name``: its aliases in this process and how far it got (what a
    failure undoes)."""

    name: str
    source: DatabaseConfig
    target: DatabaseConfig
    version: int
    """The row's version while it is being moved."""
    created: bool | None = None
    """None: the new database not created (yet); False: it existed before."""
    fenced: list[str] = field(default_factory=list)
    """The tables fenced (all or none)."""
    source_alias: str = field(init=False)
    """``tenant_<name>``, reopened read-only once fenced."""
    target_alias: str = field(init=False)
    """The new database, beside the tenant's alias (``_side_alias``)."""
    fence_alias: str = field(init=False)
    """The source, writable: the fence is DDL."""

    def __post_init__(self) -> None:
        self.source_alias = tenant_alias(self.name)
        self.target_alias = _side_alias(self.name, "move")
        self.fence_alias = _side_alias(self.name, "fence")


class Command(BaseCommand):
    help = (
        "Moves a tenant's database to another URL: copy, verify row counts, switch; the "
        "tenant is read-only meanwhile."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The tenant to move.")
        add_tenant_url_option(parser, "Its new database URL")
        parser.add_argument(
            "--drop-source",
            action="store_true",
            help="Drop the old database after the switch (its file on SQLite).",
        )
        parser.add_argument(
            "--batch-size", type=int, default=1000, help="Rows per INSERT (default 1000)."
        )
        parser.add_argument(
            "--abort",
            action="store_true",
            help="Make a tenant left read-only by a killed move writable again on its source.",
        )
        add_noinput_option(parser, "Do not ask for confirmation.")

    def handle(self, *args: Any, **options: Any) -> None:
        registry = tenants_registry()
        if registry.fixed is not None:
            raise CommandError(
                "move_tenant needs the tenants table: this project lists its tenants in "
                "TenantsConfig.names, where each database is the template's. Leave names unset "
                "and record the tenants with create_tenant to move them one by one."
            )
        (name,) = tenant_names(registry, [options["name"]], every=False)  # or did you mean
        if options["abort"]:
            self._abort(registry, name, options["verbosity"])
            return
        if not options["url"]:
            raise CommandError("move_tenant: give the new database with --url URL.")
        try:
            check_storable_url(options["url"])
        except (ValueError, DatabaseURLError) as error:
            raise CommandError(str(error)) from None
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        source = registry.database(name)
        target = registry.database_at(name, options["url"])
        if config_identity(source) & config_identity(target):
            raise CommandError(f"Tenant {name!r} already lives in {source.redacted_url}.")
        _refuse_other_tenants_database(registry, name, target)
        row = _tenants().get(name=name)
        if row.state == MOVING:
            raise CommandError(
                f"Tenant {name!r} is already being moved. If no move_tenant is running (it was "
                f"killed), make it writable on its database again with: "
                f"manage.py move_tenant {name} --abort"
            )
        confirm(
            options,
            f"Move tenant {name!r} from {source.redacted_url} to {target.redacted_url}? "
            "Its writes are refused until the move ends.",
        )
        version = row.version + 1
        if (
            not _tenants()
            .filter(name=name, state="", version=row.version)
            .update(state=MOVING, version=version)
        ):
            raise CommandError(f"Tenant {name!r} changed meanwhile (another move?); try again.")
        self._move(registry, name, source, target, version, options)

    def _move(
        self,
        registry: TenantRegistry,
        name: str,
        source: DatabaseConfig,
        target: DatabaseConfig,
        version: int,
        options: dict[str, Any],
    ) -> None:
        verbosity: int = options["verbosity"]
        started = time.monotonic()
        move = _Move(name, source, target, version)
        try:
            checks = self._copy_and_switch(registry, move, options)
        except BaseException as error:  # Ctrl-C included: the tenant must not stay read-only
            self._give_back(registry, move, error, verbosity)
        finally:
            if move.fence_alias in connections.settings:
                remove_database(move.fence_alias)
        remove_database(move.target_alias)
        registry.refresh(name)  # this process: at the new URL
        self._finish_sweeps(name, verbosity)
        if verbosity >= 1:
            self._report(name, source, target, checks, time.monotonic() - started)
        if options["drop_source"]:
            self._drop_source(registry, name, source, verbosity)

    def _copy_and_switch(
        self, registry: TenantRegistry, move: _Move, options: dict[str, Any]
    ) -> list[TableCheck]:
        """Steps 2 to 6 of the move (the module's docstring); the tables' checks."""
        verbosity: int = options["verbosity"]
        tables = self._fence_source(registry, move, verbosity)
        models = self._prepare_target(registry, move, tables, verbosity)
        copy_rows(
            models,
            move.source_alias,
            move.target_alias,
            options["batch_size"],
            self._progress(verbosity),
        )
        checks = _verified(models, move.source_alias, move.target_alias)
        switched = _tenants().filter(name=move.name, state=MOVING, version=move.version)
        # The URL as given: check_storable_url refused one with a password.
        if not switched.update(url=options["url"], state="", version=move.version + 1):
            raise MoveFailed("its row changed during the move (move_tenant --abort?)")
        return checks

    def _fence_source(self, registry: TenantRegistry, move: _Move, verbosity: int) -> list[str]:
        """Fence the source's tables, wait for running processes to see the tenant read-only,
        reopen it read-only here; the tenant tables."""
        add_database(move.fence_alias, move.source)  # writable: the fence is DDL
        tables = tenant_tables(registry.apps, move.fence_alias)
        fence(move.fence_alias, tables, fence_message(move.name))
        move.fenced = tables
        self._wait_read_only(registry, move.name, verbosity)
        move.source_alias = registry.refresh(move.name)  # read-only here too
        return tables

    def _prepare_target(
        self, registry: TenantRegistry, move: _Move, tables: list[str], verbosity: int
    ) -> list[type[Model]]:
        """Create and migrate the new database, refuse it if it holds rows or another tenant's
        fence, remove this tenant's old fence there; the tenant models to copy."""
        add_database(move.target_alias, move.target)
        move.created = create_database(move.target_alias)
        MigrateAll(
            stdout=cast(Any, self.stdout), stderr=cast(Any, self.stderr)
        ).migrate_tenant_databases([move.target_alias], verbosity=max(verbosity - 1, 0))
        models = tenant_models(registry.apps, move.source_alias)
        _check_empty(models, move.target_alias, move.target)
        _unfence_own(move.name, move.target_alias, tables, move.target)
        return models

    def _give_back(
        self, registry: TenantRegistry, move: _Move, error: BaseException, verbosity: int
    ) -> NoReturn:
        """After a failed move: the tenant back on its source, writable, the new database
        dropped if created here; a CommandError saying why and what became of each."""
        name = move.name
        why = _reason(error, move.source_alias, move.target_alias, move.fence_alias)
        if _dropped(name):
            registry.forget(name)
            source_left = _source_after_drop(move.fence_alias, move.fenced, move.source)
            kept = self._give_up(move.target_alias, move.target, move.created)
            raise CommandError(
                f"Tenant {name!r} was dropped during the move (drop_tenant), so it was not "
                f"moved; {source_left}; {kept}."
            ) from None
        back = _back_on_source(
            registry, name, move.version, move.fence_alias, move.fenced, move.source
        )
        kept = self._give_up(move.target_alias, move.target, move.created)
        self._finish_sweeps(name, verbosity)
        raise CommandError(f"Tenant {name!r} was not moved: {why}. {back}; {kept}.") from None

    def _wait_read_only(self, registry: TenantRegistry, name: str, verbosity: int) -> None:
        """Give running processes ``recheck_seconds`` + 1 s to see the tenant read-only."""
        grace = registry.recheck_seconds + 1
        if verbosity >= 1:
            self.stdout.write(
                f"Tenant {name!r} is read-only (its database refuses writes); waiting "
                f"{grace:g}s for running processes to see it."
            )
        time.sleep(grace)

    def _report(
        self,
        name: str,
        source: DatabaseConfig,
        target: DatabaseConfig,
        checks: list[TableCheck],
        took: float,
    ) -> None:
        rows = sum(check.source_rows for check in checks)
        self.stdout.write(
            self.style.SUCCESS(
                f"Tenant {name!r} moved from {source.redacted_url} to {target.redacted_url}: "
                f"{len(checks)} tables, {rows} rows copied and verified ({took:.1f}s)."
            )
        )
        for check in checks:
            self.stdout.write(f"  {check.describe()}")

    def _finish_sweeps(self, name: str, verbosity: int) -> None:
        """Finish the shared deletes whose sweep the fence refused (tenant ``name`` is writable
        again, at its new database or on its source)."""
        try:
            finished = finish_abandoned_sweeps(
                CrossDatabaseCollector
            )  # a failed one is logged and kept
        except DatabaseError as error:
            self.stderr.write(
                "Finishing the shared deletes the move's fence refused failed "
                f"({redact(DEFAULT_DB_ALIAS, str(error))}); the next shared delete or migrate_all "
                "finishes them."
            )
            return
        if finished and verbosity >= 1:
            self.stdout.write(
                f"Finished {finished} shared delete(s) whose rows in tenant {name!r} (or "
                "another tenant) the fence had refused to change."
            )

    def _progress(self, verbosity: int) -> Any:
        def progress(model: type[Model], rows: int) -> None:
            if verbosity >= 2:
                self.stdout.write(f"  copied {model._meta.db_table}: {rows} rows")

        return progress

    def _give_up(
        self,
        target_alias: str,
        target: DatabaseConfig,
        created: bool | None,
    ) -> str:
        """The new database dropped if created here; what became of it."""
        where = target.redacted_url
        if target_alias not in connections.settings:
            return f"the new database {where} was not opened"
        try:
            if created is None:
                return f"the new database {where} was not created"
            if not created:
                return f"the new database {where} existed before and was kept"
            drop_database(target_alias)
        except (DatabaseError, OSError) as error:
            return f"dropping the new database {where} failed: {redact(target_alias, str(error))}"
        finally:
            remove_database(target_alias)
        return f"the new database {where} was dropped"

    def _drop_source(
        self, registry: TenantRegistry, name: str, source: DatabaseConfig, verbosity: int
    ) -> None:
        """Drop the old database once running processes have left it (``recheck_seconds``)."""
        grace = registry.recheck_seconds + 1
        if verbosity >= 1:
            self.stdout.write(
                f"Waiting {grace:g}s for running processes to leave the old database."
            )
        time.sleep(grace)
        alias = _side_alias(name, "old")
        add_database(alias, source)  # writable: DROP DATABASE needs it
        try:
            drop_database(alias)
        except (DatabaseError, OSError) as error:
            raise CommandError(
                f"Tenant {name!r} was moved, but dropping {source.redacted_url} failed: "
                f"{redact(alias, str(error))}"
            ) from None
        finally:
            remove_database(alias)
        if verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(f"Dropped {source.redacted_url}."))

    def _abort(self, registry: TenantRegistry, name: str, verbosity: int) -> None:
        row = _tenants().get(name=name)
        if row.state != MOVING:
            raise CommandError(f"Tenant {name!r} is not being moved.")
        source = registry.database(name)
        alias = _side_alias(name, "fence")
        add_database(alias, source)
        try:
            unfence(alias, tenant_tables(registry.apps, alias))
        except (DatabaseError, OSError) as error:
            raise CommandError(
                f"Tenant {name!r} stays read-only: removing the fence of its tables in "
                f"{source.redacted_url} failed: {redact(alias, str(error))}"
            ) from None
        finally:
            remove_database(alias)
        _tenants().filter(name=name, state=MOVING).update(state="", version=F("version") + 1)
        self._finish_sweeps(name, verbosity)
        if verbosity < 1:
            return
        self.stdout.write(
            f"Tenant {name!r} takes writes again on {registry.database(name).redacted_url} "
            f"(running processes within {registry.recheck_seconds:g}s). A new database a "
            "killed move left behind was not dropped."
        )


def fence_message(name: str) -> str:
    """What a fenced database says to a write of tenant ``name`` (MariaDB keeps 128 characters)."""
    return (
        f"tenant {name!r} is being moved (or was moved) by manage.py move_tenant: this database "
        "refuses its writes"
    )


def _back_on_source(
    registry: TenantRegistry,
    name: str,
    version: int,
    alias: str,
    fenced: list[str],
    source: DatabaseConfig,
) -> str:
    """The fence removed and the tenant writable on its source again; what the user reads."""
    where = source.redacted_url
    try:
        if fenced:
            unfence(alias, fenced)
    except (DatabaseError, OSError) as error:
        return (
            f"It stays on {where}, read-only: removing the fence of its tables failed "
            f"({redact(alias, str(error))}); make it writable with: manage.py move_tenant "
            f"{name} --abort"
        )
    _tenants().filter(name=name, state=MOVING, version=version).update(
        state="", version=version + 1
    )
    registry.close(name)
    return (
        f"It stays on {where} and takes writes again (running processes within "
        f"{registry.recheck_seconds:g}s)"
    )


def _tenants() -> Any:
    from django_cfg.tenants.models import Tenant

    return Tenant._default_manager.using(DEFAULT_DB_ALIAS)


def _side_alias(name: str, role: str) -> str:
    """An alias beside ``tenant_<name>`` for this command only, of a valid tenant shape (the
    tenant router then migrates the tenant apps there) and never ``tenant_<name>`` itself."""
    for suffix in (f"__{role}", f"__{role}2"):
        alias = tenant_alias(name[: 63 - len(suffix)] + suffix)
        if alias != tenant_alias(name):
            return alias
    raise AssertionError("unreachable")


def _refuse_other_tenants_database(
    registry: TenantRegistry, name: str, target: DatabaseConfig
) -> None:
    """``CommandError`` if ``target`` is another tenant's database or replica (its row's url,
    else the template's), compared by what the database is (``database_identity``)."""
    wanted = config_identity(target)
    for row in _tenants().exclude(name=name).order_by("name"):
        for config, what in tenant_databases(registry, row.name, row):
            if wanted & config_identity(config):
                raise CommandError(
                    f"Tenant {name!r} was not moved: {target.redacted_url} is the database of "
                    f"tenant {row.name!r}{what}; moving there would mix the two tenants' rows. "
                    "Give a --url that no tenant uses."
                )


def _unfence_own(name: str, alias: str, tables: list[str], target: DatabaseConfig) -> None:
    """Remove the fence an earlier move of tenant ``name`` away from ``alias`` left there;
    refuse a target fenced by another tenant's move."""
    foreign = fences_without(alias, fence_message(name))
    if foreign:
        raise MoveFailed(
            f"{target.redacted_url} is fenced by a move of another tenant ({foreign} fence "
            "triggers that do not name this tenant): move to a database no tenant uses"
        )
    unfence(alias, tables)


def _verified(models: list[type[Model]], source: str, target: str) -> list[TableCheck]:
    """Each table compared on both databases; ``MoveFailed`` naming those that differ."""
    checks = compare(models, source, target)
    differ = [check for check in checks if not check.same]
    if differ:
        raise MoveFailed(
            "the copy differs from the source: " + "; ".join(check.describe() for check in differ)
        )
    return checks


def _dropped(name: str) -> bool:
    """Whether tenant ``name``'s row is gone (``drop_tenant`` ran during the move)."""
    try:
        return not _tenants().filter(name=name).exists()
    except DatabaseError:  # default unreachable: not known to be dropped
        return False


def _source_after_drop(alias: str, fenced: list[str], source: DatabaseConfig) -> str:
    """What became of the source of a tenant dropped during its move (its fence removed if the
    database was kept)."""
    where = source.redacted_url
    if alias not in connections.settings:
        return f"its database {where} was not changed"
    try:
        if not database_exists(alias):
            return f"its database {where} was dropped too"
        if fenced:
            unfence(alias, fenced)
    except (DatabaseError, OSError) as error:
        return f"its database {where} may keep the move's fence ({redact(alias, str(error))})"
    return f"its database {where} is kept, with its data, writable (the fence removed)"


def _check_empty(models: list[type[Model]], alias: str, target: DatabaseConfig) -> None:
    for model in models:
        if model._base_manager.using(alias).exists():
            raise MoveFailed(
                f"{target.redacted_url} already holds rows in {model._meta.db_table}: move to "
                "an empty database"
            )


def _reason(error: BaseException, *aliases: str) -> str:
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    if isinstance(error, MoveFailed):
        return str(error)
    text = f"{type(error).__name__}: {error}"
    for alias in aliases:
        text = redact(alias, text)
    return text
