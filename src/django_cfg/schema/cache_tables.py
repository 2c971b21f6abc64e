"""Django's database cache tables: which database owns each, and which are still missing.

Django's ``DatabaseCache`` (``django.core.cache.backends.db``) keeps its rows in a table that no
migration creates (``manage.py createcachetable``); its model has the app label
``django_cache``, so ``DATABASE_ROUTING_RULES = {"django_cache": "cache_db"}`` (or
``DatabaseConfig(apps=["django_cache"])``) sends it, like an app, to one database.

    cache_tables("cache_db")          # ['django_cache']: the cache tables that live there
    missing_cache_tables("cache_db")  # the ones createcachetable would create now
"""

from __future__ import annotations

from django.conf import settings
from django.db import connections, router

__all__ = ["CACHE_APP_LABEL", "cache_tables", "database_caches_configured", "missing_cache_tables"]

CACHE_APP_LABEL = "django_cache"
"""The app label of ``DatabaseCache``'s model (``BaseDatabaseCache.cache_model_class``)."""

DATABASE_CACHE_BACKEND = "django.core.cache.backends.db.DatabaseCache"


def database_caches_configured() -> bool:
    """Whether CACHES has a DatabaseCache (the only backend whose model has that label)."""
    return any(
        (cache or {}).get("BACKEND") == DATABASE_CACHE_BACKEND
        for cache in getattr(settings, "CACHES", {}).values()
    )


def cache_tables(alias: str) -> list[str]:
    """The tables of the project's database caches whose home is ``alias``."""
    from django.core.cache import caches
    from django.core.cache.backends.db import BaseDatabaseCache

    if not database_caches_configured():
        return []
    tables = []
    for name in settings.CACHES:
        cache = caches[name]
        if isinstance(cache, BaseDatabaseCache) and router.allow_migrate_model(
            alias, cache.cache_model_class
        ):
            tables.append(cache._table)  # type: ignore[attr-defined]  # set in __init__
    return sorted(set(tables))


def missing_cache_tables(alias: str) -> list[str]:
    """The cache tables of ``alias`` that do not exist yet."""
    tables = cache_tables(alias)
    if not tables:
        return []
    existing = set(connections[alias].introspection.table_names())
    return [table for table in tables if table not in existing]
