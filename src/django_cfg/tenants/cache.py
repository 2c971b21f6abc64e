"""Cache keys per tenant: a key set in one tenant is invisible to another.

    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/1",
            "KEY_FUNCTION": "django_cfg.tenants.cache_key",
        }
    }

    with use_tenant("acme"):
        cache.set("stats", acme_stats)
    with use_tenant("beta"):
        cache.get("stats")                 # None: beta never sees acme's entry

With no tenant selected, a key is Django's own (``<KEY_PREFIX>:<version>:<key>``), the shared
namespace: entries written before the setting was added stay readable. A tenant's key is
``<KEY_PREFIX>:<version>@<tenant>:<key>``: after the version, whose digits both forms share,
Django's key has a ``:`` where a tenant's has ``@``, so no key of one namespace is a key of
another. django-redis's default ``REVERSE_KEY_FUNCTION`` (split at the first two ``:``) gives
the user's key back for both forms when ``KEY_PREFIX`` holds no ``:``.
"""

from __future__ import annotations

from django_cfg.settings.tenant_names import check_tenant_name
from django_cfg.tenants.context import current_tenant

__all__ = ["cache_key"]


def cache_key(key: str, key_prefix: str, version: int | str) -> str:
    """Django's ``make_key`` with the current tenant in it (a CACHES ``KEY_FUNCTION``)."""
    name = current_tenant()
    if name is None:
        return f"{key_prefix}:{version}:{key}"
    # A name the router has not checked yet (a Celery header) must not shape another's key.
    return f"{key_prefix}:{version}@{check_tenant_name(name)}:{key}"
