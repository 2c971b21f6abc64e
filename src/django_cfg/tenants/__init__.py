"""A database per tenant (docs/tenants.md): the tenant of this context, its database, the
registry of tenants, the router in front of the package's router, the middleware.

    from django_cfg.tenants import create_tenant, drop_tenant   # sign-up flows, scripts
    CACHES = {"default": {..., "KEY_FUNCTION": "django_cfg.tenants.cache_key"}}
"""

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django_cfg.tenants.cache import cache_key
    from django_cfg.tenants.lifecycle import (
        CreatedTenant,
        DroppedTenant,
        TenantExistsError,
        TenantLifecycleError,
        create_tenant,
        drop_tenant,
    )

__all__ = [
    "CreatedTenant",
    "DroppedTenant",
    "TenantExistsError",
    "TenantLifecycleError",
    "cache_key",
    "create_tenant",
    "drop_tenant",
]


def __getattr__(name: str) -> object:
    """The lifecycle API and the cache key function, imported on first use: importing the
    package (the app, settings) builds nothing."""
    if name == "cache_key":
        return import_module("django_cfg.tenants.cache").cache_key
    if name in __all__:
        return getattr(import_module("django_cfg.tenants.lifecycle"), name)
    raise AttributeError(f"module 'django_cfg.tenants' has no attribute {name!r}")
