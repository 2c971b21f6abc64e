"""Where a tenant database's password comes from: never the tenants table.

The tenants table (``Tenant.url``, in ``default``) stores URLs without a password, so a dump or
a read of ``default`` reveals none. The password of a tenant's database is, in this order:

1. ``TenantsConfig.passwords["user@host:port"]`` or ``["user@host"]`` (secrets from the
   environment, like every other database password of the project);
2. the template's password, when the URL names the template's user, host and port;
3. none: the driver's own sources still apply (PostgreSQL ``~/.pgpass``, ``?passfile=``,
   ``PGPASSWORD``; MariaDB option files), or the server authenticates otherwise.

    tenants = TenantsConfig(
        apps=["notes"],
        url=env.tenants.url,                                   # its password stays in env
        passwords={"app@db2.example.com": env.tenants.db2_password},
    )
    # manage.py create_tenant big_co --url postgresql://app@db2.example.com/t_big_co
"""

from __future__ import annotations

from collections.abc import Mapping

from django.views.decorators.debug import sensitive_variables
from pydantic import SecretStr

from django_cfg.settings.database_config import DatabaseConfig

__all__ = ["check_storable_url", "with_password"]


@sensitive_variables()  # url may hold a password: never in Django's error reports
def check_storable_url(url: str, option: str = "--url") -> DatabaseConfig:
    """``url`` read as a ``DatabaseConfig``; ``ValueError`` if it holds a password (it would be
    stored in plain text in the tenants table). The message never shows the password."""
    config = DatabaseConfig.from_url(url)
    secrets = [key for key, value in config.options.items() if isinstance(value, SecretStr)]
    if config.password is not None or secrets:
        what = "a password" if config.password is not None else f"?{secrets[0]}="
        key = f"{config.user or 'user'}@{config.host or 'host'}"
        raise ValueError(
            f"{option} {config.redacted_url} holds {what}: it would be stored in plain text in "
            "the tenants table of default. Give the URL without it and put the password in "
            f"TenantsConfig.passwords[{key!r}] (from an environment variable), or use a server "
            "of the template (its password applies), or the driver's own sources (~/.pgpass, "
            "?passfile=, option files)."
        )
    return config


@sensitive_variables()
def with_password(
    config: DatabaseConfig, template: DatabaseConfig, passwords: Mapping[str, SecretStr]
) -> DatabaseConfig:
    """``config`` (read from a stored URL) with its password from ``passwords`` or the
    template's (see the module's docstring); unchanged if it has one or none is known."""
    if config.password is not None or not config.host:
        return config
    server = f"{config.user}@{config.host}"
    password = passwords.get(f"{server}:{config.port}") or passwords.get(server)
    if password is None and (config.user, config.host, config.port) == (
        template.user,
        template.host,
        template.port,
    ):
        password = template.password
    return config if password is None else config.model_copy(update={"password": password})
