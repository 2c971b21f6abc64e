"""Django's ``dumpdata``, also for a tenant's database: ``--database tenant_<name>``
(``management/tenant_database_option.py``). A tenant app named without a tenant's database is
an error naming the fix: Django would print ``[]`` and exit 0 (its rows are not in ``default``).

    python manage.py dumpdata notes --database tenant_acme
    python manage.py dumpdata_all            # every database, each tenant's included
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands.dumpdata import Command as DumpData

from django_cfg.management.tenant_database_option import (
    TenantDatabaseCommand,
    not_a_tenant_database,
    tenant_apps_outside_a_tenant,
)


class Command(TenantDatabaseCommand, DumpData):
    def handle(self, *app_labels: str, **options: Any) -> None:
        database: str = options["database"]
        refused = tenant_apps_outside_a_tenant(database)
        tenant_apps = [label for label in app_labels if label.split(".")[0] in refused]
        if tenant_apps:
            raise not_a_tenant_database(
                ", ".join(tenant_apps),
                database,
                f"dumpdata {' '.join(app_labels)}",
                every="every database: manage.py dumpdata_all",
            )
        super().handle(*app_labels, **options)
