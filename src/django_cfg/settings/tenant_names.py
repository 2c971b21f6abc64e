"""Tenant names, their database aliases and URL templates: plain functions, no model, so that
the settings and the runtime read them without defining ``TenantsConfig`` (issue 23).

    tenant_alias("acme")                      # 'tenant_acme'
    tenant_of_alias("tenant_acme")            # 'acme'
    tenant_database_of("tenant_acme.replica") # 'tenant_acme'
    fill_template("sqlite:///t/{tenant}.sqlite3", "acme")
"""

import hashlib
import re

from pydantic import SecretStr

__all__ = [
    "HASH_PLACEHOLDER",
    "PLACEHOLDER",
    "TEMPLATE_ALIAS",
    "TENANTS_MIDDLEWARE",
    "TENANTS_ROUTER",
    "TENANTS_SETTING",
    "TENANT_ALIAS_PREFIX",
    "check_host",
    "check_tenant_name",
    "fill_template",
    "template_text",
    "tenant_alias",
    "tenant_database_of",
    "tenant_of_alias",
    "tenant_replica_alias",
]

TENANTS_SETTING = "DJANGO_CFG_TENANTS"
TENANTS_MIDDLEWARE = "django_cfg.tenants.middleware.TenantMiddleware"
TENANTS_ROUTER = "django_cfg.tenants.router.TenantRouter"
TENANT_ALIAS_PREFIX = "tenant_"
PLACEHOLDER = "{tenant}"
TEMPLATE_ALIAS = "tenant__template"
"""The alias of the tenants' template database while it is migrated (``tenants.clone``): a
tenant database for the router, never a tenant's (no name starts with '_')."""
HASH_PLACEHOLDER = "{tenant_hash2}"
"""Two hex digits of the name's SHA-256 (256 folders): ``sqlite:///tenants/{tenant_hash2}/{tenant}``
keeps 10,000 files at about 40 per folder."""
REPLICA_SUFFIX = ".replica"
_NAME = r"[a-z0-9][a-z0-9_]{0,62}"  # compiled by the first tenant name checked (re's cache)


def check_tenant_name(name: object) -> str:
    """``name`` if it is a valid tenant name, else ``ValueError`` saying what is allowed.

    1 to 63 characters of a-z, 0-9 and ``_``, starting with a letter or digit: safe in a file
    name, a PostgreSQL / MariaDB database name and an alias, with no quoting.
    """
    if not isinstance(name, str) or not re.fullmatch(_NAME, name):
        shown = repr(name)[:80] if isinstance(name, str) else type(name).__name__
        raise ValueError(
            f"invalid tenant name {shown}: use 1 to 63 characters of a-z, 0-9 and '_', "
            "starting with a letter or digit (no '/', '.', '-', spaces or capitals)."
        )
    return name


def fill_template(template: str, name: str) -> str:
    """``template`` for tenant ``name``: ``{tenant}`` replaced by the name, ``{tenant_hash2}``
    (if present) by the first two hex digits of the name's SHA-256."""
    filled = template.replace(PLACEHOLDER, name)
    if HASH_PLACEHOLDER in filled:
        digest = hashlib.sha256(name.encode()).hexdigest()[:2]
        filled = filled.replace(HASH_PLACEHOLDER, digest)
    return filled


def tenant_alias(name: str) -> str:
    """The database alias of tenant ``name``: ``tenant_<name>``."""
    return TENANT_ALIAS_PREFIX + name


def tenant_replica_alias(name: str, number: int = 1) -> str:
    """The alias of tenant ``name``'s replica ``number`` (from 1): ``tenant_<name>.replica``,
    then ``tenant_<name>.replica2``... A '.' is never part of a tenant's name, so no tenant's
    own alias can be another tenant's replica alias (``tenant_acme_replica`` could)."""
    return f"{TENANT_ALIAS_PREFIX}{name}{REPLICA_SUFFIX}{number if number > 1 else ''}"


def tenant_of_alias(alias: str) -> str | None:
    """The tenant whose database ``alias`` is (``tenant_acme`` -> ``acme``), else None."""
    if not alias.startswith(TENANT_ALIAS_PREFIX):
        return None
    name = alias[len(TENANT_ALIAS_PREFIX) :]
    try:
        return check_tenant_name(name)
    except ValueError:
        return None


def tenant_database_of(alias: str) -> str | None:
    """The tenant database ``alias`` is or replicates (``tenant_acme.replica2`` ->
    ``tenant_acme``), else None; read from the alias alone, so also for a tenant closed since."""
    primary, dot, replica = alias.partition(".")
    if dot and not replica.startswith(REPLICA_SUFFIX[1:]):
        return None
    return primary if tenant_of_alias(primary) is not None else None


# Compiled at first use (re's own cache), not at every startup (issue 23).
_HOST = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*"


def check_host(host: str, field: str = "shared_hosts") -> str:
    """``host`` as the subdomain resolver compares it (lower case, no trailing dot), else
    ValueError naming ``field``: a host name like ``www.example.com``, without scheme, port,
    path or wildcard."""
    normalised = host.strip().lower().rstrip(".")
    if not re.fullmatch(_HOST, normalised) or len(normalised) > 253:
        raise ValueError(
            f"{field}: {host[:100]!r} is not a host name; give it as the Host header "
            "names it, without scheme, port or path (e.g. 'example.com', 'www.example.com'). "
            "IP hosts never name a tenant: they need no entry."
        )
    return normalised


def template_text(template: SecretStr | str) -> str:
    """A URL template of the ``DJANGO_CFG_TENANTS`` setting as text, read where it is parsed:
    ``TenantsConfig.setting()`` writes ``SecretStr`` (never shown in an error report), a
    setting written by hand may hold a str."""
    return template.get_secret_value() if isinstance(template, SecretStr) else template
