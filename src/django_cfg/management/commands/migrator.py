"""``manage.py migrator``: see every database's migration state, then act on it.

python manage.py migrator              # show the state of every database, ask what to do
python manage.py migrator --auto       # makemigrations + migrate_all, no questions
python manage.py migrator --dry-run    # what --auto would do, without doing it
"""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connections

from django_cfg.management.options import add_noinput_option
from django_cfg.management.output import PassThrough
from django_cfg.runtime.runtime import current_runtime
from django_cfg.schema.state import (
    PendingMigration,
    pending_migrations,
    redact,
    unmigrated_changes,
)
from django_cfg.state.missing_database import explained

CHOICES = {
    "1": "makemigrations, then migrate_all",
    "2": "migrate_all only",
    "q": "quit",
}


class Command(BaseCommand):
    help = "Shows the migration state of every database; --auto runs makemigrations + migrate_all."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--auto", action="store_true", help="Run makemigrations then migrate_all, no prompts."
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Show what would be done (new migrations, planned operations); change nothing.",
        )
        add_noinput_option(parser, "Do not prompt; without --auto, only show the state.")

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity: int = options["verbosity"]
        changes = unmigrated_changes()
        pending = {alias: _pending(alias) for alias in current_runtime().topology.migration_targets}
        if verbosity >= 1:
            self._show(changes, pending)
        if options["dry_run"] or options["auto"]:
            self._run(make=bool(changes), verbosity=verbosity, dry_run=options["dry_run"])
            return
        if not changes and not any(pending.values()):
            return
        if not options["interactive"]:
            return
        choice = self._ask(has_changes=bool(changes))
        if choice in {"1", "2"}:
            self._run(make=choice == "1", verbosity=verbosity)

    def _show(
        self, changes: dict[str, list[str]], pending: dict[str, list[PendingMigration]]
    ) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING("Model changes without a migration:"))
        if changes:
            for label, names in changes.items():
                self.stdout.write(f"  {label}: {len(names)} new migration(s) to write")
        else:
            self.stdout.write("  none")
        self.stdout.write(self.style.MIGRATE_HEADING("Unapplied migrations per database:"))
        for alias, migrations in pending.items():
            if not migrations:
                self.stdout.write(f"  {alias}: up to date")
                continue
            per_app: dict[str, list[str]] = {}
            for app, name, _runs_here in migrations:
                per_app.setdefault(app, []).append(name)
            apps_text = "; ".join(f"{app}: {', '.join(names)}" for app, names in per_app.items())
            self.stdout.write(f"  {alias}: {len(migrations)} unapplied ({apps_text})")
        if not changes and not any(pending.values()):
            self.stdout.write(self.style.SUCCESS("Everything is up to date."))

    def _ask(self, has_changes: bool) -> str:
        options = {k: v for k, v in CHOICES.items() if has_changes or k != "1"}
        menu = "\n".join(f"  [{key}] {text}" for key, text in options.items())
        while True:
            try:
                answer = input(f"What now?\n{menu}\n> ").strip().lower()
            except EOFError:  # no terminal (a pipe, CI, cron): nobody can answer
                raise CommandError(
                    "migrator asks what to do, but standard input is closed: pass --auto to "
                    "run makemigrations + migrate_all, or --noinput to only show the state."
                ) from None
            if answer in options:
                return answer
            self.stdout.write(f"Please answer one of: {', '.join(options)}.")

    def _run(self, make: bool, verbosity: int, dry_run: bool = False) -> None:
        """makemigrations (if ``make``), then migrate_all; with ``dry_run``, only show both."""
        output = {"verbosity": verbosity, "stdout": PassThrough(self.stdout)}
        try:
            if make:
                call_command("makemigrations", interactive=False, dry_run=dry_run, **output)
            call_command("migrate_all", interactive=False, plan=dry_run, **output)
        except SystemExit as exit_:
            raise CommandError(f"stopped with exit status {exit_.code}") from exit_


def _pending(alias: str) -> list[PendingMigration]:
    """``alias``'s unapplied migrations, or a CommandError saying why they cannot be read."""
    try:
        return pending_migrations(alias)
    except DatabaseError as error:
        why = redact(alias, explained(error, connections.settings[alias]))
        raise CommandError(f"{alias}: cannot read its migrations: {why}") from None
