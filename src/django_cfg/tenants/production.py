"""The production tenants' databases, which a test run never creates, opens or drops.

Read while ``default`` is still the production database (before Django's test databases
replace it), then compared with every tenant database the tests use, by what the database is:
the resolved file of SQLite, the server (host, port) and database name of PostgreSQL / MariaDB.

    production = ProductionDatabases.read()              # TenantsConfig.names, or the table
    production.owner(connections["tenant_acme"])         # "tenant 'test_acme'", or None
    production.refuse(connections["tenant_acme"], "drop")  # ImproperlyConfigured if production

``django_cfg.tenants.testing`` puts it in the test run's tenants setting
(``PRODUCTION_DATABASES``): ``create_database`` / ``drop_database`` and every new connection
check it while the tests run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.views.decorators.debug import sensitive_variables

from django_cfg.settings.database_config import DatabaseConfig
from django_cfg.settings.tenant_names import TENANTS_SETTING
from django_cfg.tenants.registry import TenantRegistry

__all__ = [
    "PRODUCTION_DATABASES",
    "ProductionDatabases",
    "config_identity",
    "database_identity",
    "tenant_databases",
]

PRODUCTION_DATABASES = "production_databases"
"""The key of the test run's tenants setting that holds the ``ProductionDatabases``."""

_LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1", "[::1]"})
_DEFAULT_PORTS = {"postgresql": "5432", "mysql": "3306"}
_POSTGRESQL_NAME_BYTES = 63  # longer names are cut by the server: compared as cut


def database_identity(vendor: str, settings_dict: Mapping[str, Any]) -> frozenset[tuple[str, ...]]:
    """What database ``settings_dict`` (of a ``vendor`` connection) is; empty for one that
    is nobody's (SQLite in memory). Two databases are the same when their identities meet
    (a PostgreSQL URL may list several hosts)."""
    name = str(settings_dict.get("NAME") or "")
    if vendor == "sqlite":
        if not name or name == ":memory:" or "mode=memory" in name:
            return frozenset()
        return frozenset({("sqlite", os.path.realpath(name.removeprefix("file:")))})
    if vendor == "postgresql":
        name = name.encode()[:_POSTGRESQL_NAME_BYTES].decode(errors="ignore")
    hosts = str(settings_dict.get("HOST") or "").split(",")
    ports = str(settings_dict.get("PORT") or "").split(",")
    ports = ports * len(hosts) if len(ports) == 1 else ports
    identity = set()
    for given_host, given_port in zip(hosts, ports, strict=False):
        host = given_host.strip().lower()
        local = host in _LOCAL_HOSTS or host.startswith("/")  # a socket is this machine too
        port = given_port.strip() or _DEFAULT_PORTS.get(vendor, "")
        identity.add((vendor, "localhost" if local else host, port, name.lower()))
    return frozenset(identity)


def config_identity(config: DatabaseConfig) -> frozenset[tuple[str, ...]]:
    """``database_identity`` of a ``DatabaseConfig`` (a relative SQLite path: from BASE_DIR)."""
    settings_dict = config.to_django(getattr(settings, "BASE_DIR", None))
    return database_identity(config.family or config.engine, settings_dict)


class ProductionDatabases:
    """The production tenants' databases: identity -> whose (``"tenant 'acme'"``)."""

    def __init__(
        self,
        owners: Mapping[tuple[str, ...], str],
        default: frozenset[tuple[str, ...]] = frozenset(),
    ) -> None:
        self.owners = dict(owners)
        self.default = default
        """The identity of ``default``'s production database (empty: in memory, or unknown)."""

    def __repr__(self) -> str:
        return f"<ProductionDatabases: {len(self.owners)} known>"

    @classmethod
    @sensitive_variables()  # the production databases' settings hold their passwords
    def read(cls, setting: Mapping[str, Any] | None = None) -> ProductionDatabases:
        """The databases of the tenants of ``setting`` (the ``DJANGO_CFG_TENANTS`` setting):
        ``TenantsConfig.names`` at the template, or every row of the tenants table of
        ``default`` (none when default or its table does not exist yet). Call it while
        ``default`` is the production database."""
        setting = setting if setting is not None else getattr(settings, TENANTS_SETTING, None)
        default = connections[DEFAULT_DB_ALIAS]
        default_identity = database_identity(default.vendor, default.settings_dict)
        if not setting:
            return cls({}, default_identity)
        registry = TenantRegistry(setting)
        if registry.fixed is not None:
            tenants = [(name, None) for name in sorted(registry.fixed)]
        else:
            tenants = [(row.name, row) for row in _production_rows()]
        owners: dict[tuple[str, ...], str] = {}
        for name, row in tenants:
            for config, what in tenant_databases(registry, name, row):
                for key in config_identity(config):
                    owners.setdefault(key, f"tenant {name!r}{what}")
        return cls(owners, default_identity)

    def owner(self, vendor: str, settings_dict: Mapping[str, Any]) -> str | None:
        """Whose production database ``settings_dict`` is (``"tenant 'acme'"``), else None."""
        for key in database_identity(vendor, settings_dict):
            if key in self.owners:
                return self.owners[key]
        return None

    def refuse_production_default(self) -> None:
        """``ImproperlyConfigured`` if ``default`` is still its production database (no test
        database was set up for it): tenants would be recorded in the production table."""
        default = connections[DEFAULT_DB_ALIAS]
        if self.default & database_identity(default.vendor, default.settings_dict):
            raise ImproperlyConfigured(
                f"default is still the production database {default.settings_dict['NAME']!r} "
                "while the tenants' test databases are set up: the tests would record tenants "
                "in its tenants table. Run tests that use databases with a test database for "
                "default (pytest-django sets one up only when a test is marked django_db or is "
                "a Django TestCase)."
            )

    def refuse(self, alias: str, vendor: str, settings_dict: Mapping[str, Any], doing: str) -> None:
        """``ImproperlyConfigured`` if ``settings_dict`` is a production tenant's database."""
        owner = self.owner(vendor, settings_dict)
        if owner is not None:
            raise ImproperlyConfigured(
                f"{settings_dict.get('NAME')!r} is the production database of {owner}: the "
                f"tests would {doing} it as {alias!r}; refused. Tests use TenantsConfig.test_url "
                "(unset: the template with 'test-' before its database name): set test_url to "
                "databases no production tenant has (another directory, prefix or server), and "
                "create tenants in tests without the url of a production tenant's database."
            )


def refuse_production(alias: str, doing: str) -> None:
    """While tests run (``django_cfg.tenants.testing``): ``ImproperlyConfigured`` if
    ``alias``'s database is a production tenant's. Nothing outside tests."""
    setting = getattr(settings, TENANTS_SETTING, None) or {}
    production = setting.get(PRODUCTION_DATABASES)
    if production is not None:
        connection = connections[alias]
        production.refuse(alias, connection.vendor, connection.settings_dict, doing)


def _production_rows() -> list[Any]:
    """The tenants table of ``default``, if default and its table exist (SQLite: a default
    file that does not exist yet is not created by asking)."""
    from django_cfg.tenants.models import Tenant

    default = connections[DEFAULT_DB_ALIAS]
    if default.vendor == "sqlite" and not any(
        os.path.exists(path) for _, path in database_identity("sqlite", default.settings_dict)
    ):  # in memory, or no file yet
        return []
    try:
        return list(Tenant._default_manager.using(DEFAULT_DB_ALIAS).all())
    except DatabaseError:  # no such database or table yet: no production tenant
        return []
    finally:
        default.close()


def tenant_databases(
    registry: TenantRegistry, name: str, row: Any
) -> Iterable[tuple[DatabaseConfig, str]]:
    """Tenant ``name``'s database and replicas, with what they are (``" (replica 1)"``)."""
    yield registry.database_at(name, row.url if row is not None else ""), ""
    for number, replica in enumerate(registry.replica_databases(name, row), start=1):
        yield replica, f" (replica {number})"
