"""Django's ``CACHES`` from URLs, as django-environ's ``CACHE_URL`` writes them.

    class MyDjangoConfig(DjangoConfig):
        caches = {"default": CacheConfig.from_url(env.cache_url)}   # or the URL text itself

    redis://:pass@cache:6379/0      -> django.core.cache.backends.redis.RedisCache (Django's own)
    rediss://cache:6380/0           -> the same over TLS
    memcached://m1:11211,m2:11211   -> PyMemcacheCache (pymemcache:// too)
    dbcache://cache_table           -> DatabaseCache (its table: createcachetable)
    locmem://  locmem://name        -> LocMemCache (per process)
    dummy://                        -> DummyCache
    file:///var/tmp/django_cache    -> FileBasedCache (an absolute folder)

Query keys: ``timeout`` (seconds, or ``none``: never expire), ``key_prefix``, ``version``,
``max_entries`` and ``cull_frequency`` (Django's cache arguments), and for redis any other key
stays in the URL, where redis-py reads it (``?ssl_cert_reqs=none``). The password is a
``SecretStr``: ``repr``, ``str``, dumps and errors show ``***`` (URL errors: ``settings.url``).
"""

from __future__ import annotations

from typing import Any, Self
from urllib.parse import quote

from pydantic import ConfigDict, Field, SecretStr

from django_cfg.settings.config_errors import ConfigModel
from django_cfg.settings.hidden_input import hidden_input_validator
from django_cfg.settings.url import (
    DatabaseURLError,
    QueryItem,
    known_scheme,
    query_items,
    quoted_for_message,
    split_server_url,
)

__all__ = ["CACHE_BACKENDS", "CacheConfig"]

CACHE_BACKENDS: dict[str, str] = {
    "redis": "django.core.cache.backends.redis.RedisCache",
    "rediss": "django.core.cache.backends.redis.RedisCache",
    "memcached": "django.core.cache.backends.memcached.PyMemcacheCache",
    "pymemcache": "django.core.cache.backends.memcached.PyMemcacheCache",
    "dbcache": "django.core.cache.backends.db.DatabaseCache",
    "locmem": "django.core.cache.backends.locmem.LocMemCache",
    "dummy": "django.core.cache.backends.dummy.DummyCache",
    "file": "django.core.cache.backends.filebased.FileBasedCache",
}
"""URL scheme -> Django cache BACKEND."""

_OPTIONS = {"max_entries", "cull_frequency"}


class CacheConfig(ConfigModel):
    """One entry of ``CACHES``; ``from_url`` reads a cache URL, ``to_django()`` renders it."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", hide_input_in_errors=True, defer_build=True
    )
    _hide_input = hidden_input_validator()

    backend: str = Field(min_length=1, description="Django cache BACKEND path")
    location: str | list[str] = Field(
        default="", description="Servers, table, folder or name; a redis URL without password"
    )
    user: str = Field(default="", description="Redis ACL user")
    password: SecretStr | None = Field(default=None, description="Redis AUTH password")
    timeout: int | None = Field(default=300, ge=0, description="Seconds; None: never expire")
    key_prefix: str = ""
    version: int = 1
    options: dict[str, Any] = Field(default_factory=dict, description="Backend OPTIONS")

    @classmethod
    def from_url(cls, url: str | SecretStr, **fields: Any) -> Self:
        """``CacheConfig.from_url("redis://:pw@cache:6379/0", timeout=60)``; keyword fields win."""
        text = url.get_secret_value() if isinstance(url, SecretStr) else url
        if not isinstance(text, str):
            raise DatabaseURLError(f"a cache URL must be text, not {type(text).__name__}.")
        parsed = _parse_cache_url(text.strip())
        options = {**parsed.pop("options", {}), **(fields.pop("options", None) or {})}
        return cls(**{**parsed, **fields, "options": options})

    def _with_credentials(self, password: str) -> str | list[str]:
        location = self.location
        if not (self.user or self.password is not None) or not isinstance(location, str):
            return location
        scheme, _, rest = location.partition("://")
        user = quote(self.user, safe="")
        return f"{scheme}://{user}{':' + password if self.password is not None else ''}@{rest}"

    @property
    def redacted_url(self) -> str:
        """``redis://:***@cache:6379/0``: the cache for messages and logs."""
        location = self._with_credentials("***")
        if isinstance(location, list):
            location = ",".join(location)
        return location if "://" in location else f"{self.backend.rsplit('.', 1)[-1]}({location})"

    def __str__(self) -> str:
        return self.redacted_url

    def to_django(self) -> dict[str, Any]:
        """The ``CACHES`` entry, password included (only here)."""
        secret = self.password.get_secret_value() if self.password is not None else ""
        location = self._with_credentials(quote(secret, safe=""))
        entry: dict[str, Any] = {"BACKEND": self.backend, "LOCATION": location}
        entry["TIMEOUT"] = self.timeout
        if self.key_prefix:
            entry["KEY_PREFIX"] = self.key_prefix
        if self.version != 1:
            entry["VERSION"] = self.version
        if self.options:
            entry["OPTIONS"] = dict(self.options)
        return entry


def _parse_cache_url(url: str) -> dict[str, Any]:
    scheme, rest = known_scheme(url, CACHE_BACKENDS, "cache")
    fields: dict[str, Any] = {"backend": CACHE_BACKENDS[scheme]}
    if scheme in {"redis", "rediss"}:
        return fields | _redis(scheme, rest)
    if scheme in {"memcached", "pymemcache"}:
        server = split_server_url(scheme, rest)
        if server.password is not None or server.user:
            raise DatabaseURLError(
                f"{server.where}: Django's memcached backend has no user or password."
            )
        hosts = [h for h in server.host.split(",") if h] or ["127.0.0.1"]
        ports = str(server.port or "").split(",")
        ports = (ports * len(hosts)) if len(ports) == 1 else ports
        servers = [f"{h}:{p or 11211}" for h, p in zip(hosts, ports, strict=False)]
        fields["location"] = servers[0] if len(servers) == 1 else servers
        return fields | _cache_query(server.query, server.where, redis=False)
    path, _, query = rest.partition("?")
    where = f"{scheme}://{quoted_for_message(path, '/:')}"
    if scheme == "file" and not path.startswith("/"):
        raise DatabaseURLError(
            f"{where}: a file cache URL names an absolute folder: file:///var/tmp/django_cache."
        )
    if scheme == "dbcache" and not path:
        raise DatabaseURLError(f"{where}: name the cache's table: dbcache://cache_table.")
    fields["location"] = path.strip("/") if scheme in {"dbcache", "locmem"} else path
    return fields | _cache_query(query, where, redis=False)


def _redis(scheme: str, rest: str) -> dict[str, Any]:
    server = split_server_url(scheme, rest, "a redis cache URL names one server.")
    host = server.host or "127.0.0.1"
    shown_host = f"[{host}]" if ":" in host else host
    database = f"/{server.path}" if server.path else ""
    fields = _cache_query(server.query, server.where, redis=True)
    extra = fields.pop("redis_query", "")
    fields["location"] = f"{scheme}://{shown_host}:{server.port or 6379}{database}{extra}"
    if server.user:
        fields["user"] = server.user  # an ACL user (Redis 6+)
    if server.password is not None:
        fields["password"] = SecretStr(server.password)
    return fields


def _cache_query(query: str, where: str, *, redis: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    options: dict[str, Any] = {}
    passed: list[str] = []
    for item in query_items(query, where):
        with item.converting():
            if item.key == "timeout":
                fields["timeout"] = None if item.value.lower() == "none" else _number(item)
            elif item.key == "version":
                fields["version"] = _number(item)
            elif item.key == "key_prefix":
                fields["key_prefix"] = item.value
            elif item.key in _OPTIONS:
                options[item.key] = _number(item)
            elif redis:
                passed.append(f"{quote(item.key)}={quote(item.value, safe='')}")
            else:
                raise DatabaseURLError(
                    f"unknown option {item.shown_key} for a cache URL; known: key_prefix, "
                    f"timeout, version, {', '.join(sorted(_OPTIONS))}. Pass others as "
                    "CacheConfig.from_url(url, options={...})"
                )
    if options:
        fields["options"] = options
    if passed:
        fields["redis_query"] = "?" + "&".join(passed)
    return fields


def _number(item: QueryItem) -> int:
    if not (item.value.isascii() and item.value.isdigit()):
        raise DatabaseURLError(f"option {item.shown_key} must be a whole number")
    return int(item.value)
