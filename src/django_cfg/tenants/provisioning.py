"""Creating and dropping a tenant's database, where the engine allows it.

    create_database("tenant_acme")   # SQLite: the file (on connect); PostgreSQL / MariaDB:
                                     # CREATE DATABASE on the tenant's server
    database_exists("tenant_acme")   # the file exists, or the server lists the database
    table_names("tenant_acme")       # its tables (connects: call when it exists)
    drop_database("tenant_acme")     # the file, or DROP DATABASE

The alias must be open (``TenantRegistry.alias_for``). The server connection is Django's own
"no database" connection of that alias (the one its test runner creates databases with), so
the tenant's user needs the right to create databases.
"""

from __future__ import annotations

from pathlib import Path

from django.db import ProgrammingError, connections

from django_cfg.settings.sqlite import names_a_file
from django_cfg.settings.url import engine_family
from django_cfg.tenants.production import refuse_production

__all__ = ["create_database", "database_exists", "drop_database", "table_names"]


def create_database(alias: str) -> bool:
    """Create ``alias``'s database; False if it already existed."""
    refuse_production(alias, "create")  # while tests run: never a production tenant's
    connection = connections[alias]
    family = engine_family(connection.settings_dict["ENGINE"])
    if family == "sqlite":
        existed = Path(connection.settings_dict["NAME"]).exists()
        connection.ensure_connection()  # creates the file
        return not existed
    name = connection.ops.quote_name(connection.settings_dict["NAME"])
    with connection._nodb_cursor() as cursor:
        if family == "mysql":
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET utf8mb4")
            return bool(cursor.rowcount == 1)
        try:
            cursor.execute(f"CREATE DATABASE {name}")
        except ProgrammingError as error:
            if "already exists" in str(error):
                return False
            raise
    return True


def database_exists(alias: str) -> bool:
    """Whether ``alias``'s database exists (connects to its server, not to the database)."""
    connection = connections[alias]
    family = engine_family(connection.settings_dict["ENGINE"])
    name = str(connection.settings_dict["NAME"])
    if family == "sqlite":
        return names_a_file(name) and Path(name).exists()
    query = {
        "postgresql": "SELECT 1 FROM pg_database WHERE datname = %s",
        "mysql": "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
    }[str(family)]
    with connection._nodb_cursor() as cursor:
        cursor.execute(query, [name])
        return cursor.fetchone() is not None


def table_names(alias: str) -> list[str]:
    """The tables of ``alias``'s database, sorted (connects to it: SQLite creates the file)."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        return sorted(connection.introspection.table_names(cursor))


def drop_database(alias: str) -> None:
    """Drop ``alias``'s database (closing this process's connection to it first)."""
    refuse_production(alias, "drop")  # while tests run: never a production tenant's
    connection = connections[alias]
    connection.close()
    family = engine_family(connection.settings_dict["ENGINE"])
    if family == "sqlite":
        path = Path(connection.settings_dict["NAME"])
        # Its journals before the file: a rollback journal left by a killed transaction and
        # outliving the file would be rolled back into the next file of that name. The lock:
        # django_cfg.schema.lock.
        for suffix in ("-journal", "-wal", "-shm", "", ".migrate-lock"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        return
    name = connection.ops.quote_name(connection.settings_dict["NAME"])
    with connection._nodb_cursor() as cursor:
        force = " WITH (FORCE)" if family == "postgresql" else ""
        cursor.execute(f"DROP DATABASE IF EXISTS {name}{force}")
