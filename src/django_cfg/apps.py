"""The ``django_cfg`` Django app: management commands, system checks, the database runtime."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig, apps


class DjangoCfgConfig(AppConfig):
    name = "django_cfg"
    verbose_name = "django-cfg"

    def ready(self) -> None:
        from django.core.signals import request_finished, request_started, setting_changed

        import django_cfg.checks  # noqa: F401  (registers the system checks)
        from django_cfg import patches
        from django_cfg.runtime.added_databases import close_removed_connections
        from django_cfg.runtime.runtime import install_django_hooks

        # The database runtime everything at request time reads; from now on each rebuild has
        # django_cfg.patches apply the patches of Django its topology needs.
        install_django_hooks(patches)
        setting_changed.connect(_rebuild_runtime, dispatch_uid="django_cfg.rebuild_runtime")
        for signal in (request_started, request_finished):
            signal.connect(
                close_removed_connections, dispatch_uid="django_cfg.close_removed_connections"
            )
        if apps.is_installed("django.contrib.admin"):
            from django.core.checks import Tags, register

            from django_cfg.checks.admin import check_admin_lookups

            register(check_admin_lookups, Tags.admin, "django_cfg")
            from django.contrib import admin

            from django_cfg.admin.databases_page import register_databases_page

            register_databases_page(admin.site)  # the "Databases" page (docs/admin.md)


def _rebuild_runtime(*, setting: str, **_: Any) -> None:
    """The one ``setting_changed`` receiver: a routing setting changed (``override_settings``),
    so the database runtime is compiled again; the router re-fetches it at its next call.
    Django rebuilds its own router list for DATABASE_ROUTERS; the runtime decides the patches."""
    from django_cfg.runtime.runtime import rebuild_runtime
    from django_cfg.state.topology import TOPOLOGY_SETTINGS

    if setting in TOPOLOGY_SETTINGS or setting == "DATABASE_ROUTERS":
        rebuild_runtime()
