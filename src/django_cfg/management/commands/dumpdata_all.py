"""``manage.py dumpdata_all``: Django's ``dumpdata`` for every database, one fixture each.

    python manage.py dumpdata_all -o backup/        # backup/default.json, backup/blog_db.json, ...
    python manage.py dumpdata_all -o backup/ --format jsonl -e contenttypes -e auth.Permission
    python manage.py dumpdata_all -o backup/ --database blog_db
    python manage.py dumpdata_all -o backup/ --tenant acme     # backup/tenant_acme.json only
    python manage.py loaddata_all backup/           # each file back on its database

``dumpdata`` reads one database and only the models whose tables live there; this runs it once per
database that holds tables (``default`` first: the databases ``migrate_all`` migrates) and writes
``<output>/<alias>.<format>``. The options are dumpdata's own, passed on unchanged. With
``TenantsConfig``, every tenant's database follows (``tenant_<name>.<format>``, the tenant apps'
rows), unless ``--database`` or ``--tenant`` selects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_cfg.management.did_you_mean import check_database_option
from django_cfg.management.options import add_database_option, add_exclude_option
from django_cfg.management.tenant_databases import add_tenant_option, selected_tenants
from django_cfg.schema.fixtures import data_databases, natural_keys_across


class Command(BaseCommand):
    help = (
        "Dumps every database that holds tables into <output>/<alias>.<format>, with Django's "
        "dumpdata (each database's own models); loaddata_all loads them back."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "args",
            metavar="app_label[.ModelName]",
            nargs="*",
            help="Restricts the dump to these apps or models (on whichever database holds them).",
        )
        parser.add_argument(
            "-o",
            "--output",
            required=True,
            metavar="DIRECTORY",
            help="Directory for the fixtures, one per database: <alias>.<format>.",
        )
        add_database_option(
            parser, "Only this database (repeatable). Default: every database that holds tables."
        )
        add_tenant_option(
            parser,
            "Only this tenant's database (repeatable). Default: every tenant, unless "
            "--database is given.",
        )
        _add_dumpdata_options(parser)

    def handle(self, *app_labels: str, **options: Any) -> None:
        check_database_option(options["databases"])
        fixed = options["databases"] or not options["tenants"]  # --tenant alone: no fixed one
        databases = data_databases(options["databases"]) if fixed else []
        if options["use_natural_foreign_keys"]:
            self._refuse_natural_keys_across(app_labels, options["exclude"])
        with selected_tenants(options["tenants"], every=not options["databases"]) as tenants:
            if tenants.failures:  # a backup without a tenant is no backup: nothing is written
                raise CommandError(
                    "\n".join(f"{alias}: {why}" for alias, why in tenants.failures.items())
                )
            self._dump([*databases, *tenants.aliases], app_labels, options)

    def _dump(self, databases: list[str], app_labels: tuple[str, ...], options: Any) -> None:
        directory = Path(options["output"])
        directory.mkdir(parents=True, exist_ok=True)
        verbosity: int = options["verbosity"]
        for alias in databases:
            path = directory / f"{alias}.{options['format']}"
            try:
                call_command(
                    "dumpdata",
                    *app_labels,
                    database=alias,
                    output=str(path),
                    format=options["format"],
                    indent=options["indent"],
                    exclude=options["exclude"],
                    use_natural_foreign_keys=options["use_natural_foreign_keys"],
                    use_natural_primary_keys=options["use_natural_primary_keys"],
                    use_base_manager=options["use_base_manager"],
                    verbosity=0,
                    skip_checks=True,
                )
            except CommandError as error:
                raise CommandError(f"{alias}: {error}") from error
            if verbosity >= 1:
                self.stdout.write(f"{alias}: {self.style.SUCCESS('dumped')} to {path}")

    @staticmethod
    def _refuse_natural_keys_across(app_labels: tuple[str, ...], excludes: list[str]) -> None:
        across = natural_keys_across(app_labels, excludes)
        if across:
            relations = "".join(f"\n  {relation.describe()}" for relation in across)
            raise CommandError(
                "--natural-foreign would write these cross-database ForeignKeys as natural keys, "
                "which loaddata looks up on the database it loads into, where the target's table "
                f"does not exist:{relations}\nDump without --natural-foreign, or exclude these "
                "models (-e app_label.ModelName) and dump them separately."
            )


def _add_dumpdata_options(parser: CommandParser) -> None:
    """The options of Django's dumpdata that dumpdata_all passes on unchanged."""
    parser.add_argument("--format", default="json", help="Serialization format (json).")
    parser.add_argument("--indent", type=int, help="Indentation of the output.")
    add_exclude_option(parser)
    parser.add_argument(
        "--natural-foreign",
        action="store_true",
        dest="use_natural_foreign_keys",
        help="Use natural foreign keys (not across databases: see docs/migrations.md).",
    )
    parser.add_argument(
        "--natural-primary",
        action="store_true",
        dest="use_natural_primary_keys",
        help="Use natural primary keys.",
    )
    parser.add_argument(
        "-a",
        "--all",
        action="store_true",
        dest="use_base_manager",
        help="Use Django's base manager (rows a custom manager would filter out too).",
    )
