"""The router a project without django_cfg writes by hand (baseline only)."""

HOMES = {"blog": "blog_db", "shop": "shop_db"}


class AppLabelRouter:
    def db_for_read(self, model, **hints):  # type: ignore[no-untyped-def]
        return HOMES.get(model._meta.app_label, "default")

    db_for_write = db_for_read

    def allow_migrate(self, db, app_label, **hints):  # type: ignore[no-untyped-def]
        return HOMES.get(app_label, "default") == db
