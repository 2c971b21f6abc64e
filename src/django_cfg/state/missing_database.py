"""A connection refused because its database does not exist: the server is up, the fix is to
create the database, not to check the server.

    try:
        connections["blog_db"].ensure_connection()
    except OperationalError as error:
        if database_missing(error):
            print(missing_database_fix(connections["blog_db"].settings_dict))
            # database "blog" does not exist on its server: create it (CREATE DATABASE "blog"),
            # then run manage.py migrate_all (it creates tables, not databases)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django_cfg.settings.url import engine_family

__all__ = ["database_missing", "explained", "missing_database_fix"]

MYSQL_UNKNOWN_DATABASE = 1049
"""MySQL/MariaDB ER_BAD_DB_ERROR: ``Unknown database 'x'``."""

# Compiled at first use (re's own cache), not at every startup (issue 23).
_POSTGRESQL_MISSING = r'FATAL:\s+database ".*" does not exist'


def database_missing(error: BaseException) -> bool:
    """The server answered that the connection's database does not exist (PostgreSQL's
    ``FATAL: database "x" does not exist``, MySQL's error 1049), for Django's error or the
    driver's (``__cause__``)."""
    seen: BaseException | None = error
    while seen is not None:
        args = getattr(seen, "args", ())
        if args and args[0] == MYSQL_UNKNOWN_DATABASE:
            return True
        if re.search(_POSTGRESQL_MISSING, str(seen)):
            return True
        seen = seen.__cause__
    return False


def missing_database_fix(settings_dict: Mapping[str, Any]) -> str:
    """What to do about a missing database, for its ``DATABASES`` entry."""
    name = str(settings_dict.get("NAME", ""))
    quoted = (
        f"`{name}`" if engine_family(settings_dict.get("ENGINE", "")) == "mysql" else f'"{name}"'
    )
    return (
        f"database {quoted} does not exist on its server: create it (CREATE DATABASE {quoted}), "
        "then run manage.py migrate_all (it creates tables, not databases)"
    )


def explained(error: BaseException, settings_dict: Mapping[str, Any]) -> str:
    """``OperationalError: ...`` on one line, followed by the fix when the database is missing
    (once: ``replicas.outage`` may have added it already)."""
    text = " ".join(f"{type(error).__name__}: {error}".split())
    if database_missing(error) and "CREATE DATABASE" not in text:
        text = f"{text.rstrip('.')}. The {missing_database_fix(settings_dict)}."
    return text
