"""Typed, validated Django configuration with first-class multi-database support.

    from django_cfg import DjangoConfig, DatabaseConfig

    class MyDjangoConfig(DjangoConfig):
        databases = {"default": DatabaseConfig.from_url(url=env.database.url)}

    config = MyDjangoConfig()

This module holds the public API only; docs/configuration.md describes every field.
"""

from importlib import import_module
from typing import TYPE_CHECKING

from django_cfg.settings.database_config import DatabaseConfig
from django_cfg.settings.django_config import DjangoConfig
from django_cfg.settings.django_env import ENVIRONMENT_VARIABLE, current_environment
from django_cfg.settings.url import DatabaseURLError, register_scheme

if TYPE_CHECKING:
    from django_cfg.settings.caches import CacheConfig
    from django_cfg.settings.database_urls import (
        DatabaseURLs,
        alias_for_url_key,
        databases_from_urls,
    )
    from django_cfg.settings.email import EmailConfig
    from django_cfg.settings.env_settings import EnvSettings
    from django_cfg.settings.tenants import TenantsConfig
    from django_cfg.state.pins import use_primary
    from django_cfg.tenants.context import current_tenant, use_tenant
    from django_cfg.tenants.errors import NoTenantError, UnknownTenantError

# Imported on first use, so that a settings module that does not use them (most) does not pay
# for building their models at every startup.
_LAZY = {
    "CacheConfig": "django_cfg.settings.caches",
    "EmailConfig": "django_cfg.settings.email",
    "TenantsConfig": "django_cfg.settings.tenants",
    "DatabaseURLs": "django_cfg.settings.database_urls",
    "alias_for_url_key": "django_cfg.settings.database_urls",
    "databases_from_urls": "django_cfg.settings.database_urls",
    "EnvSettings": "django_cfg.settings.env_settings",
    "use_primary": "django_cfg.state.pins",
    "use_tenant": "django_cfg.tenants.context",
    "current_tenant": "django_cfg.tenants.context",
    "NoTenantError": "django_cfg.tenants.errors",
    "UnknownTenantError": "django_cfg.tenants.errors",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'django_cfg' has no attribute {name!r}")


__all__ = [
    "ENVIRONMENT_VARIABLE",
    "CacheConfig",
    "DatabaseConfig",
    "DatabaseURLError",
    "DatabaseURLs",
    "DjangoConfig",
    "EmailConfig",
    "EnvSettings",
    "NoTenantError",
    "TenantsConfig",
    "UnknownTenantError",
    "alias_for_url_key",
    "current_environment",
    "current_tenant",
    "databases_from_urls",
    "register_scheme",
    "use_primary",
    "use_tenant",
]
