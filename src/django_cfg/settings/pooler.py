"""Databases behind a connection pooler (PgBouncer, Odyssey, pgcat, RDS Proxy).

    DATABASE__URL=postgresql://app@pgbouncer:6432/main?pooler=transaction
    DatabaseConfig.from_url(env.database.url, pooler="transaction")

In transaction pooling, each transaction of a client may run on another server connection, and a
server connection passes from client to client: nothing may rely on session state. So
``pooler="transaction"`` turns Django's server-side cursors off (``.iterator()`` would fetch from
a cursor that lives on another connection) and psycopg's prepared statements (``prepare_threshold
= None``; a threshold of one's own is refused, and ``check`` reports one put back: E061), and the
library's session-level mechanisms use their pooler-safe forms (``schema/lock.py``).
``pooler="session"`` changes nothing: a session pooler gives each client one server connection
for its whole session. The setting is in the ``DATABASES`` entry as ``POOLER``, for code that
holds a connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

__all__ = [
    "POOLED_PORTS",
    "POOLER_KEY",
    "PoolerMode",
    "behind_transaction_pooler",
    "looks_pooled",
]

PoolerMode = Literal["session", "transaction"]
POOLER_KEY = "POOLER"
"""Key of the pooler mode in a ``DATABASES`` entry (absent: a direct connection)."""
POOLED_PORTS = frozenset({6432})
"""PgBouncer's default port (also Odyssey's and pgcat's usual one)."""


def behind_transaction_pooler(settings_dict: Mapping[str, Any]) -> bool:
    """True for a ``DATABASES`` entry whose connections go through a transaction pooler."""
    return settings_dict.get(POOLER_KEY) == "transaction"


def looks_pooled(servers: list[tuple[str, int | None]]) -> bool:
    """True when a server is on a pooler's usual port or has ``pgbouncer`` in its host name."""
    return any(port in POOLED_PORTS or "pgbouncer" in host.lower() for host, port in servers)
