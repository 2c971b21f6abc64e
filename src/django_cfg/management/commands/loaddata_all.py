"""``manage.py loaddata_all``: Django's ``loaddata`` on every database, each row on its own.

    python manage.py loaddata_all backup/           # backup/<alias>.* (dumpdata_all) on <alias>
    python manage.py loaddata_all all.json          # one fixture of every database's rows
    python manage.py loaddata_all backup/ --database blog_db

``loaddata`` loads into one database and skips, without a word, every object whose model lives
elsewhere (the router's ``allow_migrate``). Given a directory, this loads each ``<alias>.<format>``
file into that database; given fixtures, it loads them into every database that holds tables, so
each object lands on its model's database. Everything runs inside one transaction per database,
opened before the first load and committed after the last: a failure anywhere loads nothing.
"""

from __future__ import annotations

import warnings
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.management.commands import loaddata
from django.db import connections, transaction

from django_cfg.schema.fixtures import data_databases


class Command(BaseCommand):
    help = (
        "Loads fixtures into every database that holds tables, each object on its model's "
        "database: a dumpdata_all directory (<alias>.<format> per database) or fixture files."
    )
    missing_args_message = "Name a dumpdata_all directory or at least one fixture."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "args",
            metavar="directory|fixture",
            nargs="+",
            help="A directory written by dumpdata_all, or fixture labels as loaddata takes them.",
        )
        parser.add_argument(
            "--database",
            action="append",
            dest="databases",
            metavar="ALIAS",
            help="Only this database (repeatable). Default: every database that holds tables.",
        )
        parser.add_argument(
            "--app", dest="app_label", help="Only look for fixtures in the specified app."
        )
        parser.add_argument(
            "--ignorenonexistent",
            "-i",
            action="store_true",
            dest="ignore",
            help="Ignore fields in the fixtures that no longer exist on the model.",
        )
        parser.add_argument(
            "-e",
            "--exclude",
            action="append",
            default=[],
            help="An app_label or app_label.ModelName to exclude (repeatable).",
        )

    def handle(self, *labels: str, **options: Any) -> None:
        databases = data_databases(options["databases"])
        if "-" in labels:
            raise CommandError(
                "loaddata_all reads each fixture once per database and cannot read stdin; "
                "save it to a file first."
            )
        directories = [label for label in labels if Path(label).is_dir()]
        if directories and len(labels) > 1:
            raise CommandError("Name one dumpdata_all directory, or fixtures, not both.")
        plan = (
            self._files_per_database(Path(directories[0]), options["databases"])
            if directories
            else {alias: list(labels) for alias in databases}
        )
        with ExitStack() as stack:
            for alias in plan:
                stack.enter_context(transaction.atomic(using=alias))
            loaded = {
                alias: self._load(alias, fixtures, options) for alias, fixtures in plan.items()
            }
        self._report(plan, loaded, directory=bool(directories), verbosity=options["verbosity"])

    def _files_per_database(
        self, directory: Path, requested: list[str] | None
    ) -> dict[str, list[str]]:
        """``{alias: [directory/<alias>.<format>]}``; a file for no such database is an error.

        Every file is loaded (a copy's too: ``dumpdata_all --database archive`` wrote it) unless
        ``--database`` narrows them.
        """
        files: dict[str, list[str]] = {}
        for path in sorted(p for p in directory.iterdir() if p.is_file()):
            alias = path.name.split(".", 1)[0]
            if alias not in connections.settings:
                raise CommandError(
                    f"{path}: no database {alias!r} in DATABASES (dumpdata_all names each file "
                    "after its database); rename or remove it."
                )
            files.setdefault(alias, []).append(str(path))
        if not files:
            raise CommandError(f"{directory}: no fixture files (expected <alias>.<format>).")
        found = data_databases(sorted(files))  # raises for a database that holds no tables
        return {
            alias: files[alias] for alias in data_databases(requested or found) if alias in files
        }

    def _load(self, alias: str, fixtures: list[str], options: dict[str, Any]) -> tuple[int, int]:
        """Load ``fixtures`` into ``alias``: (objects installed, objects in the fixtures)."""
        command = loaddata.Command()
        try:
            with warnings.catch_warnings():
                # An empty dump (a database with no rows) is not a problem here.
                warnings.filterwarnings("ignore", message="No fixture data found")
                call_command(
                    command,
                    *fixtures,
                    database=alias,
                    app_label=options["app_label"],
                    ignore=options["ignore"],
                    exclude=options["exclude"],
                    verbosity=0,
                    skip_checks=True,
                )
        except Exception as error:  # any failure: the transactions of every database roll back
            raise CommandError(f"{alias}: {error} (nothing was loaded on any database)") from error
        return command.loaded_object_count, command.fixture_object_count

    def _report(
        self,
        plan: dict[str, list[str]],
        loaded: dict[str, tuple[int, int]],
        directory: bool,
        verbosity: int,
    ) -> None:
        if verbosity >= 1:
            for alias, (installed, _) in loaded.items():
                names = ", ".join(Path(fixture).name for fixture in plan[alias])
                self.stdout.write(
                    f"{alias}: {self.style.SUCCESS(f'installed {installed} object(s)')} "
                    f"from {names}"
                )
        if directory:
            skipped = sum(total - installed for installed, total in loaded.values())
        else:
            in_fixtures = max((total for _, total in loaded.values()), default=0)
            skipped = in_fixtures - sum(installed for installed, _ in loaded.values())
        if skipped > 0:
            self.stderr.write(
                self.style.WARNING(
                    f"{skipped} object(s) in the fixtures were installed on no database: their "
                    "models' tables live on no database loaded here (another --database, a "
                    "read-only database, an unmanaged model) or were excluded."
                )
            )
