"""The ``django_cfg`` Django app: management commands, system checks, cross-database relations."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig, apps


class DjangoCfgConfig(AppConfig):
    name = "django_cfg"
    verbose_name = "django-cfg"

    def ready(self) -> None:
        from django.conf import settings
        from django.core.signals import setting_changed
        from django.db.backends.signals import connection_created

        from django_cfg import checks  # noqa: F401  (registers the system checks)
        from django_cfg.relations import crossing as relations
        from django_cfg.routing.read_only import guard_read_only
        from django_cfg.routing.topology import router_installed

        setting_changed.connect(_rebuild_routing, dispatch_uid="django_cfg.rebuild_routing")
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


def _rebuild_routing(*, setting: str, **kwargs: Any) -> None:
    """Tests that override a routing setting get a router compiled from the new values."""
    from django.db import router
    from django.db.utils import ConnectionRouter

    from django_cfg.routing.topology import TOPOLOGY_SETTINGS, reset_topology

    if setting in TOPOLOGY_SETTINGS:
        reset_topology(setting)
        router.routers = ConnectionRouter().routers
    elif setting == "DATABASE_ROUTERS":
        from django_cfg.routing.router import route_directly, sole_router

        if not sole_router(kwargs["value"] or ()):
            route_directly(None)  # Django rebuilds the routers; its loop must run again
