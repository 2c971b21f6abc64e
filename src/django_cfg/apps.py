"""The ``django_cfg`` Django app: management commands, system checks, the database runtime."""

from __future__ import annotations

import os
from importlib.util import find_spec
from types import ModuleType
from typing import Any

from django.apps import AppConfig, apps

from django_cfg.runtime.after_import import after_import


class DjangoCfgConfig(AppConfig):
    name = "django_cfg"
    verbose_name = "django-cfg"

    def ready(self) -> None:
        from django.core.signals import request_finished, request_started, setting_changed

        from django_cfg import patches
        from django_cfg.checks import register_checks
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
        _install_operations()
        if find_spec("celery") is not None:  # read-your-writes follows Celery tasks
            after_import("celery.signals", _connect_celery)
        admin_installed = apps.is_installed("django.contrib.admin")
        register_checks(admin=admin_installed)  # each imports its module when the checks run
        if admin_installed:
            from django.contrib import admin

            from django_cfg.admin.databases_page import register_databases_page

            register_databases_page(admin.site)  # the "Databases" page (docs/admin.md)


def _connect_celery(_: ModuleType) -> None:
    """Once ``celery.signals`` is imported (now, or whenever the project imports Celery): no
    task can be queued or run before that, and a project without Celery never imports it."""
    from django_cfg.replicas import celery

    celery.connect()


def _install_operations() -> None:
    """In prometheus_client's multiprocess mode, a flush of this process's counts at the end of
    every request (per-query metrics are patch 5's wrapper: django_cfg.patches)."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return  # not multiprocess_mode(): the metrics' module is imported by a scrape only
    from django.core.signals import request_finished

    from django_cfg.operations.prometheus_export import flush, multiprocess_mode

    if multiprocess_mode():
        request_finished.connect(flush, dispatch_uid="django_cfg.metrics_flush")


def _rebuild_runtime(*, setting: str, **_: Any) -> None:
    """The one ``setting_changed`` receiver: a routing setting changed (``override_settings``),
    so the database runtime is compiled again; the router re-fetches it at its next call.
    Django rebuilds its own router list for DATABASE_ROUTERS; the runtime decides the patches."""
    from django_cfg.runtime.runtime import rebuild_runtime
    from django_cfg.state.topology import TOPOLOGY_SETTINGS

    if setting in TOPOLOGY_SETTINGS or setting == "DATABASE_ROUTERS":
        rebuild_runtime()
