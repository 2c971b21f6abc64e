"""WAL positions on PostgreSQL: where a primary has written to, and where a replica has replayed.

    with primary.cursor() as cursor:
        written = written_position(cursor)          # e.g. 0x16B374D848
    with replica.cursor() as cursor:
        replayed = replayed_position(cursor)        # None on a server that is not a standby
    lag_bytes = written - replayed

Read-your-writes, the lag probes and ``db_status`` compare these two numbers (never the lag
columns of ``pg_stat_replication``, which go NULL when idle). ``db_status`` asks each server what
it is in one query:

    facts = server_facts(cursor)
    # ServerFacts(in_recovery=True, position=..., replay_paused=False, lag_seconds=0.0)
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = [
    "REPLAYED_POSITION_SQL",
    "SERVER_FACTS_SQL",
    "WRITTEN_POSITION_SQL",
    "ServerFacts",
    "format_lsn",
    "parse_lsn",
    "replayed_position",
    "server_facts",
    "written_position",
]

WRITTEN_POSITION_SQL = "SELECT pg_current_wal_lsn()::text"
"""On a primary: the WAL position its last write reached."""
REPLAYED_POSITION_SQL = "SELECT pg_last_wal_replay_lsn()::text"
"""On a replica: the WAL position it has replayed (NULL on a primary)."""
SERVER_FACTS_SQL = """
SELECT r, (CASE WHEN r THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text,
       CASE WHEN r THEN pg_is_wal_replay_paused() END,
       CASE WHEN r THEN CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END END
FROM pg_is_in_recovery() AS r
"""
"""What the server is (``pg_is_in_recovery()``), its WAL position (written on a primary, replayed
on a standby), whether replay is paused, and how many seconds of commits it has yet to replay
(0 when it has replayed all it received: an idle primary is no lag)."""


class ServerFacts(NamedTuple):
    """One PostgreSQL server's own answer about its role and replay (a NamedTuple: a frozen
    dataclass costs ~3.5M instructions to define at every startup, issue 23)."""

    in_recovery: bool
    """True: a standby (read-only, replaying WAL); False: a primary (takes writes)."""
    position: int | None
    """The WAL position it has written (a primary) or replayed (a standby)."""
    replay_paused: bool | None
    """Standbys: ``pg_wal_replay_pause()`` is in effect (its data stays as it is)."""
    lag_seconds: float | None
    """Standbys: age of the last replayed commit while WAL it received waits to be replayed."""


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


def server_facts(cursor: Any) -> ServerFacts:
    """What the server ``cursor`` is connected to says of itself."""
    cursor.execute(SERVER_FACTS_SQL)
    in_recovery, position, paused, lag = cursor.fetchone()
    return ServerFacts(
        in_recovery=bool(in_recovery),
        position=parse_lsn(position) if position else None,
        replay_paused=paused,
        lag_seconds=None if lag is None else max(0.0, round(float(lag), 3)),
    )


def _position(cursor: Any, sql: str) -> int | None:
    cursor.execute(sql)
    row = cursor.fetchone()
    return parse_lsn(row[0]) if row and row[0] else None
