"""Typed, validated Django configuration with first-class multi-database support.

    from django_cfg import DjangoConfig, DatabaseConfig

    class MyDjangoConfig(DjangoConfig):
        databases = {"default": DatabaseConfig.from_url(url=env.database.url)}

    config = MyDjangoConfig()

This module holds the public API only; docs/configuration.md describes every field.
"""

from .config import DjangoConfig
from .databases.config import DatabaseConfig
from .databases.env_urls import DatabaseURLs, alias_for_url_key, databases_from_urls
from .databases.url import DatabaseURLError, register_scheme
from .env import EnvSettings
from .environment import ENVIRONMENT_VARIABLE, current_environment


def __getattr__(name: str) -> object:
    """``use_primary`` is imported on first use (it imports Django's request machinery)."""
    if name == "use_primary":
        from .databases.pinning import use_primary

        return use_primary
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
