"""Typed, validated Django configuration with first-class multi-database support.

    from django_cfg import DjangoConfig, DatabaseConfig

    class MyDjangoConfig(DjangoConfig):
        databases = {"default": DatabaseConfig.from_url(url=env.database.url)}

    config = MyDjangoConfig()

This module holds the public API only; docs/configuration.md describes every field.
"""

from importlib import import_module
from typing import TYPE_CHECKING

from .config import DjangoConfig
from .databases.config import DatabaseConfig
from .databases.url import DatabaseURLError, register_scheme
from .environment import ENVIRONMENT_VARIABLE, current_environment

if TYPE_CHECKING:
    from .databases.env_urls import DatabaseURLs, alias_for_url_key, databases_from_urls
    from .databases.pinning import use_primary
    from .env import EnvSettings

# Imported on first use, so that a settings module that does not use them (most) does not pay
# for building their models at every startup.
_LAZY = {
    "DatabaseURLs": ".databases.env_urls",
    "alias_for_url_key": ".databases.env_urls",
    "databases_from_urls": ".databases.env_urls",
    "EnvSettings": ".env",
    "use_primary": ".databases.pinning",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'django_cfg' has no attribute {name!r}")


__all__ = [
    "ENVIRONMENT_VARIABLE",
    "DatabaseConfig",
    "DatabaseURLError",
    "DatabaseURLs",
    "DjangoConfig",
    "EnvSettings",
    "alias_for_url_key",
    "current_environment",
    "databases_from_urls",
    "register_scheme",
    "use_primary",
]
