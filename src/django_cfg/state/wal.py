"""WAL positions on PostgreSQL: where a primary has written to, and where a replica has replayed.

    with primary.cursor() as cursor:
        written = written_position(cursor)          # e.g. 0x16B374D848
    with replica.cursor() as cursor:
        replayed = replayed_position(cursor)        # None on a server that is not a standby
    lag_bytes = written - replayed

Read-your-writes, the lag probes and ``db_status`` compare these two numbers (never the lag
columns of ``pg_stat_replication``, which go NULL when idle).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "REPLAYED_POSITION_SQL",
    "WRITTEN_POSITION_SQL",
    "format_lsn",
    "parse_lsn",
    "replayed_position",
    "written_position",
]

WRITTEN_POSITION_SQL = "SELECT pg_current_wal_lsn()::text"
"""On a primary: the WAL position its last write reached."""
REPLAYED_POSITION_SQL = "SELECT pg_last_wal_replay_lsn()::text"
"""On a replica: the WAL position it has replayed (NULL on a primary)."""


def parse_lsn(text: str) -> int:
    """PostgreSQL's ``16/B374D848`` as one integer."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


def format_lsn(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def written_position(cursor: Any) -> int | None:
    """The primary's current WAL position, read with ``cursor`` (None if it has none)."""
    return _position(cursor, WRITTEN_POSITION_SQL)


def replayed_position(cursor: Any) -> int | None:
    """The replica's replayed WAL position, read with ``cursor`` (None if not a standby)."""
    return _position(cursor, REPLAYED_POSITION_SQL)


def _position(cursor: Any, sql: str) -> int | None:
    cursor.execute(sql)
    row = cursor.fetchone()
    return parse_lsn(row[0]) if row and row[0] else None
