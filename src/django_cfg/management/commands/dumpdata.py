"""Django's ``dumpdata``, also for a tenant's database: ``--database tenant_<name>``
(``management/tenant_database_option.py``). A tenant app named without a tenant's database is
an error naming the fix: Django would print ``[]`` and exit 0 (its rows are not in ``default``).

    python manage.py dumpdata notes --database tenant_acme
    python manage.py dumpdata_all            # every database, each tenant's included
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError
from django.core.management.commands.dumpdata import Command as DumpData

from django_cfg.management.tenant_database_option import TenantDatabaseCommand, tenant_of_option
from django_cfg.tenants.registry import current_registry


class Command(TenantDatabaseCommand, DumpData):
    def handle(self, *app_labels: str, **options: Any) -> None:
        registry = current_registry()
        database: str = options["database"]
        if registry is not None and tenant_of_option(database) is None:
            tenant_apps = [label for label in app_labels if label.split(".")[0] in registry.apps]
            if tenant_apps:
                raise CommandError(
                    f"{', '.join(tenant_apps)}: a tenant app (TenantsConfig.apps), whose rows "
                    f"are in each tenant's database, not in {database!r}. Dump one tenant's "
                    f"with: manage.py dumpdata {' '.join(app_labels)} --database "
                    "tenant_<name> (manage.py list_tenants lists them), or every database "
                    "with: manage.py dumpdata_all."
                )
        super().handle(*app_labels, **options)
