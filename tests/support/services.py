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


def sibling_url(url: str, suffix: str) -> str:
    """The same server, database name + ``suffix``: ``.../django_cfg`` -> ``..._blog``."""
    base, _, query = url.partition("?")
    return f"{base}{suffix}" + (f"?{query}" if query else "")


SERVICES = {"postgres": POSTGRES_URL, "replica": REPLICA_URL, "mariadb": MARIADB_URL}
"""pytest marker -> the URL of the server its tests need."""


@cache
def unreachable(marker: str) -> str | None:
    """Why the server behind ``marker`` cannot be reached, or None when it answers."""
    database = DatabaseConfig.from_url(SERVICES[marker])
    try:
        with socket.create_connection((database.host, database.port or 0), timeout=2):
            return None
    except OSError as error:
        return f"{database.redacted_url} is unreachable ({error}); run scripts/services.sh"
