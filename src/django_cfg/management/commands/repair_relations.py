"""``manage.py repair_relations``: finish interrupted cross-database deletes, repair orphans.

    python manage.py repair_relations --dry-run     # list; exit 1 if anything needs repair
    python manage.py repair_relations --noinput     # repair (deploy step, cron)
    python manage.py repair_relations --noinput --tenant acme   # one tenant's rows only

1. Deletes that a crash interrupted (their intent is still recorded, docs/cross-database-
   relations.md) are finished: objects still there are deleted, references to objects already
   gone get their ``on_delete``.
2. Every cross-database ForeignKey is scanned, in batches, for rows whose value names a row that
   does not exist on the target's database. CASCADE deletes them (and what cascades from them),
   SET_NULL, SET_DEFAULT and SET(...) update them; PROTECT, RESTRICT and DO_NOTHING rows are
   listed and left.

With ``TenantsConfig``, the relations of the tenant apps (``notes.Note.author`` -> a user on
``default``) are scanned in every tenant's database, each as that tenant (``use_tenant``), unless
``--database`` (fixed databases only) or ``--tenant`` (those tenants only) selects.

Exit status: 0 when nothing needs repair (or everything was repaired); 1 with ``--dry-run`` when
something would be repaired, and without it when something was left (an unfinishable delete, a
PROTECT or RESTRICT orphan). DO_NOTHING orphans are listed but do not change the status.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.db.models import DO_NOTHING

from django_cfg.management.did_you_mean import check_database_option
from django_cfg.management.options import add_database_option, add_noinput_option
from django_cfg.management.tenant_databases import add_tenant_option, selected_tenants
from django_cfg.relations.collector import CrossDatabaseCollector
from django_cfg.relations.crossing import CrossDatabaseRelation, cross_database_relations
from django_cfg.relations.delete_intents import PendingDelete, pending_deletes
from django_cfg.relations.orphans import (
    DEFAULT_BATCH_SIZE,
    OrphanBatch,
    Repair,
    find_orphans,
    on_delete_action,
    on_delete_of,
    repair_orphans,
    why_left,
)
from django_cfg.relations.roll_forward import finish_pending_delete
from django_cfg.state.topology import TENANT_HOME
from django_cfg.tenants.context import use_tenant
from django_cfg.tenants.registry import current_registry, tenant_of_alias

DEFAULT_GRACE_SECONDS = 60.0
"""How long an orphan must stay one before it is repaired (``--grace``)."""


class Command(BaseCommand):
    help = (
        "Finishes cross-database deletes a crash interrupted and repairs orphans of "
        "cross-database ForeignKeys (rows naming a row that does not exist) by their on_delete."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List what would be repaired, change nothing; exit 1 if anything would be.",
        )
        add_noinput_option(parser, "Repair without asking for confirmation.")
        add_database_option(
            parser,
            "Only relations whose rows live on this database, and deletes recorded there "
            "(repeatable; default: all).",
        )
        add_tenant_option(
            parser,
            "Only the relations of this tenant's rows, and the deletes that reached it "
            "(repeatable). Default: every tenant, unless --database is given.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"Values and rows per query (default {DEFAULT_BATCH_SIZE}).",
        )
        parser.add_argument(
            "--grace",
            type=float,
            default=DEFAULT_GRACE_SECONDS,
            metavar="SECONDS",
            help="Repair an orphan only if its target is still missing this long after it was "
            "found: a target row inside a transaction not yet committed on its database is not "
            f"visible yet (default {DEFAULT_GRACE_SECONDS:g}; longer than your longest "
            "transaction).",
        )
        parser.add_argument(
            "--older-than",
            type=float,
            default=0.0,
            metavar="SECONDS",
            help="Only deletes recorded at least this long ago (a delete still committing "
            "elsewhere is finished twice otherwise, which is harmless). Default 0.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = int(options["verbosity"])
        dry_run = bool(options["dry_run"])
        batch_size = int(options["batch_size"])
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        databases, tenants_named = options["databases"], options["tenants"]
        check_database_option(databases)
        older_than = timedelta(seconds=float(options["older_than"]))
        with selected_tenants(tenants_named, every=not databases) as tenants:
            fixed = bool(databases) or not tenants_named  # --tenant alone: no fixed database
            relations = _relations(databases, tenants.opened, fixed=fixed)
            try:
                pending = pending_deletes(databases, older_than)
            except DatabaseError as error:
                raise CommandError(f"Could not read the unfinished deletes: {error}") from error
            if tenants_named and not databases:  # the deletes that reached one of them
                pending = [d for d in pending if _parts_in(d, tenants.aliases)]
            self.unopened = tenants.failures
            for alias, why in tenants.failures.items():
                self.stderr.write(self.style.ERROR(f"{alias}: {why}"))
            self._run(pending, relations, options, batch_size, dry_run)

    def _run(
        self,
        pending: list[PendingDelete],
        relations: list[CrossDatabaseRelation],
        options: dict[str, Any],
        batch_size: int,
        dry_run: bool,
    ) -> None:
        if not dry_run and options["interactive"] and not sys.stdin.isatty():
            raise CommandError(
                "repair_relations changes rows and asks first, but standard input is not a "
                "terminal: pass --noinput to repair without asking (or --dry-run to list)."
            )
        grace = float(options["grace"])
        if grace < 0:
            raise CommandError("--grace must be 0 or more seconds.")
        if dry_run or options["interactive"]:
            found = self._survey(pending, relations, batch_size)
            if dry_run:
                if found:
                    sys.exit(1)
                return
            if not found:
                return
            answer = input("Repair these? Type 'yes' to continue: ")
            if answer.strip().lower() != "yes":
                raise CommandError("Repair cancelled; nothing was changed.")
        self._repair(pending, relations, batch_size, grace)

    # --dry-run: what would be done ------------------------------------------------------------

    def _survey(
        self, pending: list[PendingDelete], relations: list[CrossDatabaseRelation], size: int
    ) -> bool:
        """List everything; True when something needs repair."""
        for delete in pending:
            self._line(self.style.WARNING(f"Unfinished {delete.describe()}"))
        needs_repair = bool(pending)
        for relation in relations:
            action = on_delete_action(relation)
            count = 0
            for batch in self._scan(relation, size):
                count += len(batch.rows)
                self._list(batch, action)
            if count:
                needs_repair = needs_repair or on_delete_of(relation) is not (DO_NOTHING)
                self._summary(relation, count, action)
        if self.unopened:
            return True  # a tenant's database could not be scanned
        if not needs_repair:
            self._line(self.style.SUCCESS("No unfinished deletes, no orphans to repair."))
        return needs_repair

    def _list(self, batch: OrphanBatch, action: str) -> None:
        if self.verbosity < 1:
            return
        relation = batch.relation
        model = relation.field.model._meta.label
        for pk, value in batch.rows:
            self.stdout.write(
                f"{model} pk={pk}: {relation.field.name}={value!r} names no "
                f"{relation.target_label} on {relation.target_database!r} -> {action}"
            )

    def _summary(self, relation: CrossDatabaseRelation, count: int, action: str) -> None:
        where = f"{relation.describe()}: {count} orphan(s)"
        if action == "leave":
            self._line(self.style.WARNING(f"{where}, left: {why_left(relation)}"))
        else:
            self._line(self.style.WARNING(f"{where}, on_delete: {action}"))

    # repair -----------------------------------------------------------------------------------

    def _repair(
        self,
        pending: list[PendingDelete],
        relations: list[CrossDatabaseRelation],
        size: int,
        grace: float,
    ) -> None:
        problems = self._finish_deletes(pending)
        problems += self._repair_orphans(relations, size, grace)
        problems += [f"{alias}: {why}" for alias, why in self.unopened.items()]
        if problems:
            raise CommandError(
                "Left unrepaired (see above):\n  "
                + "\n  ".join(problems)
                + "\nRun 'manage.py repair_relations --dry-run' to list the rows."
            )
        self._line(self.style.SUCCESS("Nothing left to repair."))

    def _finish_deletes(self, pending: list[PendingDelete]) -> list[str]:
        """Finish each interrupted delete (as the tenant whose rows it changed); what was left."""
        problems: list[str] = []
        for delete in pending:
            try:
                with use_tenant(self._tenant_of(delete)):
                    finished = finish_pending_delete(delete, CrossDatabaseCollector)
            except Exception as error:  # reported; the intent stays for the next run
                problems.append(f"could not finish {delete.describe()}: {error}")
                continue
            done = {
                **finished.deleted,
                **{f"{k} (updated)": v for k, v in finished.repaired.items()},
            }
            self._line(
                self.style.SUCCESS(f"Finished {delete.describe()}")
                + (f"; {_counts(done)}" if done else "")
            )
            problems += finished.left
        return problems

    def _repair_orphans(
        self, relations: list[CrossDatabaseRelation], size: int, grace: float
    ) -> list[str]:
        """Find the orphans, wait ``grace``, repair those still orphans; what was left."""
        # Found first, repaired after the grace period: repair_orphans checks again that each
        # target is still missing (a row committed meanwhile on its database is no orphan).
        found_batches = {relation: self._scan(relation, size) for relation in relations}
        if grace and any(found_batches.values()):
            self._line(f"Orphans found; checking them again in {grace:g}s (--grace).")
            time.sleep(grace)
        problems: list[str] = []
        for relation, batches in found_batches.items():
            problems += self._repair_relation(relation, batches)
        return problems

    def _repair_relation(
        self, relation: CrossDatabaseRelation, batches: list[OrphanBatch]
    ) -> list[str]:
        """Repair the orphans of ``relation`` by its on_delete; what was left (DO_NOTHING's
        rows are only listed)."""
        total = Repair()
        found = 0
        for batch in batches:
            found += len(batch.rows)
            try:
                with use_tenant(tenant_of_alias(relation.database)):
                    total.add(repair_orphans(batch, CrossDatabaseCollector))
            except DatabaseError as error:
                total.left.append(f"{relation.label}: repair failed: {error}")
        if not found:
            return []
        if total.changed:
            self._line(
                self.style.SUCCESS(
                    f"{relation.describe()}: {found} orphan(s) repaired "
                    f"({on_delete_action(relation)}): {_counts(total.changed)}"
                )
            )
        if on_delete_of(relation) is not DO_NOTHING:
            return total.left
        for why in total.left:
            self._line(self.style.WARNING(why))
        return []

    @staticmethod
    def _scan(relation: CrossDatabaseRelation, size: int) -> list[OrphanBatch]:
        """The orphans of ``relation`` (as the tenant whose database holds its rows, if any)."""
        try:
            with use_tenant(tenant_of_alias(relation.database)):
                return list(find_orphans(relation, size))
        except DatabaseError as error:
            raise CommandError(f"Could not scan {relation.describe()}: {error}") from error

    @staticmethod
    def _tenant_of(delete: PendingDelete) -> str | None:
        """The tenant whose rows ``delete`` changed (opened in this process), or None."""
        registry = current_registry()
        for db, _label, _pks in delete.parts:
            name = tenant_of_alias(db)
            if name is not None and registry is not None:
                registry.alias_for(name)
                return name
        return None

    def _line(self, text: str) -> None:
        if self.verbosity >= 1:
            self.stdout.write(text)


def _relations(
    databases: list[str] | None, tenant_aliases: list[str], fixed: bool
) -> list[CrossDatabaseRelation]:
    """The relations to scan: those of the fixed databases (``databases``, default all) if
    ``fixed``, then the tenant apps' relations once per tenant database."""
    every = cross_database_relations()
    found = [
        relation
        for relation in every
        if fixed
        and TENANT_HOME not in (relation.database, relation.target_database)  # E070
        and (not databases or relation.database in databases)
    ]
    for alias in tenant_aliases:
        found += [
            relation._replace(database=alias)
            for relation in every
            if relation.database == TENANT_HOME and relation.target_database != TENANT_HOME
        ]
    return found


def _parts_in(delete: PendingDelete, aliases: list[str]) -> bool:
    return any(db in aliases for db, _label, _pks in delete.parts)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {label}" for label, count in sorted(counts.items()))
