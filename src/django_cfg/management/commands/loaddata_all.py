"""``manage.py loaddata_all``: Django's ``loaddata`` on every database, each row on its own.

    python manage.py loaddata_all backup/           # backup/<alias>.* (dumpdata_all) on <alias>
    python manage.py loaddata_all all.json          # one fixture of every database's rows
    python manage.py loaddata_all backup/ --database blog_db
    python manage.py loaddata_all backup/ --tenant acme   # backup/tenant_acme.* into acme's

``loaddata`` loads into one database and skips, without a word, every object whose model lives
elsewhere (the router's ``allow_migrate``). Given a directory, this loads each ``<alias>.<format>``
file into that database; given fixtures, it loads them into every database that holds tables, so
each object lands on its model's database. Everything runs inside one transaction per database,
opened before the first load and committed after the last: a failure anywhere loads nothing.
With ``TenantsConfig``, a directory's ``tenant_<name>.<format>`` files load into those tenants'
databases (the tenants must exist: ``create_tenant``), and fixtures load into every tenant's
database too (each gets the tenant apps' objects), unless ``--database`` or ``--tenant`` selects.
"""

from __future__ import annotations

import warnings
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.management.commands import loaddata
from django.db import DatabaseError, connections, transaction

from django_cfg.management.did_you_mean import check_database_option
from django_cfg.management.options import add_database_option, add_exclude_option
from django_cfg.management.output import PassThrough
from django_cfg.management.tenant_databases import add_tenant_option, selected_tenants
from django_cfg.schema.fixtures import data_databases
from django_cfg.schema.state import redact
from django_cfg.state.missing_database import explained
from django_cfg.tenants.registry import current_registry, tenant_of_alias


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
        add_database_option(
            parser, "Only this database (repeatable). Default: every database that holds tables."
        )
        add_tenant_option(
            parser,
            "Only this tenant's database (repeatable). Default: every tenant (with a directory: "
            "every tenant that has a file), unless --database is given.",
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
        add_exclude_option(parser)

    def handle(self, *labels: str, **options: Any) -> None:
        directory = _directory_given(labels)
        requested = options["databases"]
        check_database_option(requested)
        tenant_only = bool(options["tenants"]) and not requested  # --tenant alone: no fixed one
        databases = data_databases(requested)  # refuses a --database that holds no tables
        tenant_files: dict[str, list[str]] = {}
        if directory is None:
            plan = {} if tenant_only else {alias: list(labels) for alias in databases}
            names, every = options["tenants"], not requested
        else:
            files, tenant_files = self._fixture_files(Path(directory))
            plan = {} if tenant_only else self._files_per_database(files, requested)
            in_files = [name for alias in sorted(tenant_files) if (name := tenant_of_alias(alias))]
            names = options["tenants"] or ([] if requested else in_files)
            every = False
        with selected_tenants(names, every=every) as tenants:
            _refuse_unopened(tenants.failures)
            for alias in tenants.aliases:
                fixtures = _tenant_fixtures(
                    alias, labels, directory, tenant_files, named=bool(options["tenants"])
                )
                if fixtures:
                    plan[alias] = fixtures
            loaded = self._load_in_one_transaction_each(plan, options)
        self._report(plan, loaded, directory=directory is not None, verbosity=options["verbosity"])

    @staticmethod
    def _fixture_files(directory: Path) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """``({alias: [directory/<alias>.<format>]}, the same for tenant databases)``.

        A file for no such database is an error; ``tenant_<name>.*`` files are a tenant's when
        the project has tenants (the tenant is checked when it is opened).
        """
        files: dict[str, list[str]] = {}
        tenant_files: dict[str, list[str]] = {}
        has_tenants = current_registry() is not None
        for path in sorted(p for p in directory.iterdir() if p.is_file()):
            alias = path.name.split(".", 1)[0]
            if has_tenants and tenant_of_alias(alias) is not None:
                tenant_files.setdefault(alias, []).append(str(path))
                continue
            if alias not in connections.settings:
                raise CommandError(
                    f"{path}: no database {alias!r} in DATABASES (dumpdata_all names each file "
                    "after its database); rename or remove it."
                )
            files.setdefault(alias, []).append(str(path))
        if not files and not tenant_files:
            raise CommandError(f"{directory}: no fixture files (expected <alias>.<format>).")
        return files, tenant_files

    @staticmethod
    def _files_per_database(
        files: dict[str, list[str]], requested: list[str] | None
    ) -> dict[str, list[str]]:
        """The fixed databases' files to load: every one (a copy's too: ``dumpdata_all
        --database archive`` wrote it) unless ``--database`` narrows them."""
        if not files:
            return {}
        found = data_databases(sorted(files))  # raises for a database that holds no tables
        return {
            alias: files[alias] for alias in data_databases(requested or found) if alias in files
        }

    def _load_in_one_transaction_each(
        self, plan: dict[str, list[str]], options: dict[str, Any]
    ) -> dict[str, tuple[int, int]]:
        """Every database's transaction opened first, each loaded, all committed at the end (a
        failure anywhere loads nothing); ``{alias: (installed, in the fixtures)}``."""
        with ExitStack() as stack:
            for alias in plan:
                _begin(stack, alias)
            return {alias: self._load(alias, fixtures, options) for alias, fixtures in plan.items()}

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
                    verbosity=max(options["verbosity"] - 1, 0),  # -v 2: loaddata's own lines
                    stdout=PassThrough(self.stdout),
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
        skipped = _installed_nowhere(loaded, directory)
        if skipped > 0 and verbosity >= 1:
            self.stderr.write(
                self.style.WARNING(
                    f"{skipped} object(s) in the fixtures were installed on no database: their "
                    "models' tables live on no database loaded here (another --database, a "
                    "read-only database, an unmanaged model) or were excluded."
                )
            )


def _directory_given(labels: tuple[str, ...]) -> str | None:
    """The dumpdata_all directory named, or None for fixtures; a CommandError for stdin or for
    a directory named with other labels."""
    if "-" in labels:
        raise CommandError(
            "loaddata_all reads each fixture once per database and cannot read stdin; "
            "save it to a file first."
        )
    directories = [label for label in labels if Path(label).is_dir()]
    if directories and len(labels) > 1:
        raise CommandError("Name one dumpdata_all directory, or fixtures, not both.")
    return directories[0] if directories else None


def _refuse_unopened(failures: dict[str, str]) -> None:
    """A CommandError naming the tenant databases that could not be opened, if any."""
    if failures:
        raise CommandError(
            "\n".join(f"{alias}: {why}" for alias, why in failures.items())
            + "\nNothing was loaded."
        )


def _tenant_fixtures(
    alias: str,
    labels: tuple[str, ...],
    directory: str | None,
    tenant_files: dict[str, list[str]],
    named: bool,
) -> list[str]:
    """What loads into tenant database ``alias``: every fixture, or its file of the directory
    (a CommandError if the tenant was ``named`` by --tenant and has none)."""
    if directory is None:
        return list(labels)
    if named and alias not in tenant_files:
        raise CommandError(
            f"--tenant {tenant_of_alias(alias)}: {directory} has no {alias}.* "
            "fixture (dumpdata_all writes one per tenant). Nothing was loaded."
        )
    return tenant_files.get(alias, [])


def _installed_nowhere(loaded: dict[str, tuple[int, int]], directory: bool) -> int:
    """How many objects of the fixtures no database installed: per file from a directory; for
    fixtures loaded everywhere, the tenant apps' objects counted once (each tenant has them)."""
    if directory:
        return sum(total - installed for installed, total in loaded.values())
    in_fixtures = max((total for _, total in loaded.values()), default=0)
    fixed = [n for alias, (n, _) in loaded.items() if tenant_of_alias(alias) is None]
    per_tenant = [n for alias, (n, _) in loaded.items() if tenant_of_alias(alias)]
    return in_fixtures - sum(fixed) - max(per_tenant, default=0)


def _begin(stack: ExitStack, alias: str) -> None:
    """Open ``alias``'s transaction in ``stack``; a CommandError if its database does not
    answer (nothing was loaded anywhere yet)."""
    try:
        stack.enter_context(transaction.atomic(using=alias))
    except DatabaseError as error:
        why = redact(alias, explained(error, connections.settings[alias]))
        raise CommandError(f"{alias}: {why}\nNothing was loaded.") from None
