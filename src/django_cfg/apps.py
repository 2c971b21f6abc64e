"""The ``django_cfg`` Django app: management commands, system checks, cross-database relations."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig, apps


class DjangoCfgConfig(AppConfig):
    name = "django_cfg"
    verbose_name = "django-cfg"

    def ready(self) -> None:
        from django.conf import settings
        from django.core.signals import request_finished, setting_changed
        from django.db.backends.signals import connection_created

        from django_cfg import checks  # noqa: F401  (registers the system checks)
        from django_cfg.relations import crossing as relations
        from django_cfg.routing.read_only import guard_read_only
        from django_cfg.routing.runtime import close_removed_connections, rebuild_runtime
        from django_cfg.routing.topology import router_installed

        rebuild_runtime()  # the database runtime everything at request time reads
        setting_changed.connect(_rebuild_runtime, dispatch_uid="django_cfg.rebuild_runtime")
        request_finished.connect(
            close_removed_connections, dispatch_uid="django_cfg.close_removed_connections"
        )
        if not router_installed(settings.DATABASE_ROUTERS):
            return
        connection_created.connect(guard_read_only, dispatch_uid="django_cfg.guard_read_only")
        # Explains a query that needs a table of another database (a JOIN across databases, or
        # a query sent to the wrong database), on connections to databases that lack some table.
        connection_created.connect(
            relations.guard_cross_database_joins, dispatch_uid="django_cfg.guard_joins"
        )
        if relations.cross_database_relations():
            relations.drop_cross_database_constraints()
            relations.install_cross_database_deletion()
            if apps.is_installed("django.contrib.admin"):
                from django_cfg.admin.cross_database import install_cross_database_admin

                install_cross_database_admin()


def _rebuild_runtime(*, setting: str, **_: Any) -> None:
    """The one ``setting_changed`` receiver: a routing setting changed (``override_settings``),
    so the database runtime is compiled again; the router re-fetches it at its next call.
    DATABASE_ROUTERS needs nothing here: Django rebuilds its own router list."""
    from django_cfg.routing.runtime import rebuild_runtime
    from django_cfg.routing.topology import TOPOLOGY_SETTINGS

    if setting in TOPOLOGY_SETTINGS:
        rebuild_runtime()
