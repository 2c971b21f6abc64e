"""Django's ``makemigrations``, first saying which ForeignKeys cross databases.

Those fields are written with ``db_constraint=False`` (see docs/cross-database-relations.md);
everything else is Django's command unchanged.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands.makemigrations import Command as MakeMigrationsCommand

from django_cfg.patches import dropped_constraints


class Command(MakeMigrationsCommand):
    def handle(self, *app_labels: Any, **options: Any) -> None:
        relations = dropped_constraints()
        if relations and options["verbosity"] >= 1:
            self.stdout.write(
                self.style.MIGRATE_HEADING("Cross-database ForeignKeys (no database constraint):")
            )
            for relation in relations:
                self.stdout.write(f"  {relation.describe()}: db_constraint=False")
        super().handle(*app_labels, **options)
