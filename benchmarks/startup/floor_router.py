"""The router a project without django_cfg writes by hand for floor_handwritten.py: app rules,
and reads of ``default``'s apps from its replica (baseline only)."""

HOMES = {"blog": "blog_db", "shop": "shop_db"}


class ReplicaRouter:
    def db_for_read(self, model, **hints):  # type: ignore[no-untyped-def]
        home = HOMES.get(model._meta.app_label, "default")
        return "replica" if home == "default" else home

    def db_for_write(self, model, **hints):  # type: ignore[no-untyped-def]
        return HOMES.get(model._meta.app_label, "default")

    def allow_migrate(self, db, app_label, **hints):  # type: ignore[no-untyped-def]
        return HOMES.get(app_label, "default") == db
