"""Where the suite finds its real database servers, whether they answer, and whether CI runs it."""

from __future__ import annotations

import os
import socket
from functools import cache

from django_cfg import DatabaseConfig

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
"""CI=true: a test whose server is missing fails the run instead of being left out."""

POSTGRES_URL = os.environ.get(
    "DJANGO_CFG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/django_cfg"
)
REPLICA_URL = os.environ.get(
    "DJANGO_CFG_TEST_REPLICA_URL", "postgresql://postgres@127.0.0.1:5433/django_cfg"
)
MARIADB_URL = os.environ.get(
    "DJANGO_CFG_TEST_MARIADB_URL", "mysql://root@127.0.0.1:3306/django_cfg?charset=utf8mb4"
)


def through_pgbouncer(url: str, port: int = 6432) -> str:
    """The same database through the PgBouncer of scripts/services.sh (``?pooler=transaction``)."""
    database = DatabaseConfig.from_url(url)
    return f"postgresql://{database.user}@127.0.0.1:{port}/{database.name}?pooler=transaction"


PGBOUNCER_URL = os.environ.get("DJANGO_CFG_TEST_PGBOUNCER_URL") or through_pgbouncer(POSTGRES_URL)
"""PgBouncer (transaction pooling) in front of the PostgreSQL test server; by default the
database of DJANGO_CFG_TEST_POSTGRES_URL through 127.0.0.1:6432."""


def sibling_url(url: str, suffix: str) -> str:
    """The same server, database name + ``suffix``: ``.../django_cfg`` -> ``..._blog``."""
    base, _, query = url.partition("?")
    return f"{base}{suffix}" + (f"?{query}" if query else "")


def pgbouncer_release(database: str, url: str = PGBOUNCER_URL) -> None:
    """Close PgBouncer's server connections to ``database`` (idle ones would keep it from being
    dropped), through its admin console: KILL, then RESUME so that new clients are served."""
    import psycopg

    pooler = DatabaseConfig.from_url(url)
    host, port = pooler.servers[0]
    with psycopg.connect(
        host=host, port=port, user=pooler.user, dbname="pgbouncer", autocommit=True
    ) as admin:
        admin.execute(f'KILL "{database}"', prepare=False)
        admin.execute(f'RESUME "{database}"', prepare=False)


SERVICES = {
    "postgres": POSTGRES_URL,
    "replica": REPLICA_URL,
    "mariadb": MARIADB_URL,
    "pgbouncer": PGBOUNCER_URL,
}
"""pytest marker -> the URL of the server its tests need."""


@cache
def unreachable(marker: str) -> str | None:
    """Why the server behind ``marker`` cannot be reached, or None when it answers."""
    database = DatabaseConfig.from_url(SERVICES[marker])
    host, port = database.servers[0]
    try:
        with socket.create_connection((host, port or 0), timeout=2):
            return None
    except OSError as error:
        return f"{database.redacted_url} is unreachable ({error}); run scripts/services.sh"
