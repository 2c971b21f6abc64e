"""Django's ``loaddata``, also for a tenant's database: ``--database tenant_<name>``
(the tenant is selected while it runs; ``management/tenant_database_option.py``). A fixture
holding a tenant app's objects, loaded without a tenant's database, is an error naming the
model and the fix (nothing is loaded): Django would skip them and say "Installed 0 object(s)".

    python manage.py loaddata notes.json --database tenant_acme
    python manage.py tenant_command --all-tenants loaddata notes.json
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands.loaddata import Command as LoadData

from django_cfg.management.tenant_database_option import (
    TenantDatabaseCommand,
    not_a_tenant_database,
    tenant_apps_outside_a_tenant,
)


class Command(TenantDatabaseCommand, LoadData):
    refused: frozenset[str] = frozenset()
    """The tenant apps whose objects this run refuses (``--database`` is not a tenant's)."""

    def handle(self, *fixture_labels: str, **options: Any) -> None:
        self.refused = tenant_apps_outside_a_tenant(options["database"])
        self.labels = " ".join(fixture_labels)
        super().handle(*fixture_labels, **options)

    def save_obj(self, obj: Any) -> bool:
        """Django's, after refusing a tenant app's object (loaddata's transaction is rolled
        back: nothing of the fixtures is kept). Excluded ones (``-e``) are skipped as ever."""
        model = type(obj.object)
        excluded = model._meta.app_config in self.excluded_apps or model in self.excluded_models
        if model._meta.app_label in self.refused and not excluded:
            raise not_a_tenant_database(
                f"{model._meta.label} (fixture {self.labels})",
                self.using,
                f"loaddata {self.labels}",
                every="every tenant: manage.py tenant_command --all-tenants loaddata "
                f"{self.labels}",
            )
        saved: bool = super().save_obj(obj)
        return saved
