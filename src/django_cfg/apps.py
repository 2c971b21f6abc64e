"""The ``django_cfg`` Django app: management commands, system checks, cross-database relations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.apps import AppConfig, apps

if TYPE_CHECKING:
    from django_cfg.routing.topology import Topology


class DjangoCfgConfig(AppConfig):
    name = "django_cfg"
    verbose_name = "django-cfg"

    def ready(self) -> None:
        from django.conf import settings
        from django.core.signals import setting_changed

        from django_cfg import checks  # noqa: F401  (registers the system checks)
        from django_cfg.routing.topology import get_topology, router_installed

        setting_changed.connect(_rebuild_routing, dispatch_uid="django_cfg.rebuild_routing")
        if not router_installed(settings.DATABASE_ROUTERS):
            return
        if apps.is_installed("django.contrib.admin"):
            from django.core.checks import Tags, register

            from django_cfg.admin.cross_database import check_admin_lookups

            register(check_admin_lookups, Tags.admin, "django_cfg")
        _install_patches(get_topology())


def _install_patches(topology: Topology | None) -> None:
    """The patches of Django this topology needs (none without the router): ``patches``."""
    from django_cfg import patches

    if topology is None:
        patches.uninstall()
    else:
        patches.install(topology)


def _rebuild_routing(*, setting: str, **kwargs: Any) -> None:
    """Tests that override a routing setting get a router compiled from the new values."""
    from django.conf import settings
    from django.db import router
    from django.db.utils import ConnectionRouter

    from django_cfg.routing.topology import (
        TOPOLOGY_SETTINGS,
        get_topology,
        reset_topology,
        router_installed,
    )

    if setting in TOPOLOGY_SETTINGS or setting == "DATABASE_ROUTERS":
        ours = router_installed(settings.DATABASE_ROUTERS)
        if setting in TOPOLOGY_SETTINGS:
            reset_topology(setting)
        _install_patches(get_topology() if ours else None)
    if setting in TOPOLOGY_SETTINGS:
        router.routers = ConnectionRouter().routers
    elif setting == "DATABASE_ROUTERS":
        from django_cfg.routing.router import route_directly, sole_router

        if not sole_router(kwargs["value"] or ()):
            route_directly(None)  # Django rebuilds the routers; its loop must run again
