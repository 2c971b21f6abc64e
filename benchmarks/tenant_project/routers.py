"""BENCH_MODE=static: the tenant apps on every ``tenant_*`` alias and nowhere else; django_cfg's
delete-intents table on every database, as with TenantsConfig."""

from settings import TENANT_APPS


class StaticTenantRouter:
    def allow_migrate(self, db, app_label, **hints):
        if app_label in TENANT_APPS:
            return db.startswith("tenant_")
        if db.startswith("tenant_"):
            return app_label == "django_cfg"
        return None
