"""django-cfg 0.1's import paths (``django_cfg.databases.*``, ``django_cfg.env``) keep
working: each name is the object at its new home."""

from __future__ import annotations

import importlib

import pytest
from django.test import override_settings

from django_cfg.settings.routers import LEGACY_ROUTER_PATH, router_installed

MOVED = {
    "django_cfg.databases.cross_database_admin": {
        "CrossDatabaseChangeList": "django_cfg.admin.changelist",
        "CrossDatabaseNestedObjects": "django_cfg.admin.delete_page",
        "admin_lookup_errors": "django_cfg.checks.admin",
    },
    "django_cfg.databases.pinning": {
        "ReadYourWritesMiddleware": "django_cfg.replicas.pinning",
        "use_primary": "django_cfg.state.pins",
    },
    "django_cfg.databases.relations": {
        "CrossDatabaseCollector": "django_cfg.relations.collector",
        "CrossDatabaseRelation": "django_cfg.relations.crossing",
        "cross_database_relations": "django_cfg.relations.crossing",
        "CrossDatabaseJoinError": "django_cfg.relations.wrong_database_errors",
        "TableNotOnDatabaseError": "django_cfg.relations.wrong_database_errors",
    },
    "django_cfg.databases.replicas": {
        "ReplicaMonitor": "django_cfg.state.replica_monitor",
        "replica_state_changed": "django_cfg.state.replica_monitor",
    },
    "django_cfg.databases.router": {"DatabaseRouter": "django_cfg.routing.router"},
    "django_cfg.databases.topology": {
        "DatabaseRole": "django_cfg.state.topology",
        "Topology": "django_cfg.state.topology",
    },
    "django_cfg.databases.url": {
        "DatabaseURLError": "django_cfg.settings.url",
        "parse_database_url": "django_cfg.settings.url",
        "redacted_url": "django_cfg.settings.url",
        "register_scheme": "django_cfg.settings.url",
    },
    "django_cfg.env": {
        "ConfigFileError": "django_cfg.settings.env_settings",
        "EnvSettings": "django_cfg.settings.env_settings",
    },
}


@pytest.mark.parametrize("old", sorted(MOVED))
def test_each_old_name_is_the_object_at_its_new_home(old: str) -> None:
    module = importlib.import_module(old)
    for name, home in MOVED[old].items():
        assert getattr(module, name) is getattr(importlib.import_module(home), name), name


def test_the_old_functions_read_the_runtime() -> None:
    from django_cfg.databases.replicas import current_monitor
    from django_cfg.databases.topology import get_topology
    from django_cfg.runtime.runtime import current_runtime

    assert get_topology() is current_runtime().topology
    assert current_monitor() is current_runtime().monitor


def test_the_router_path_0_1_wrote_into_settings_still_routes() -> None:
    from django.db import router

    assert router_installed([LEGACY_ROUTER_PATH])
    with override_settings(DATABASE_ROUTERS=[LEGACY_ROUTER_PATH]):
        from django.contrib.auth.models import User

        assert router.db_for_write(User) == "default"
        assert type(router.routers[0]).__name__ == "DatabaseRouter"
