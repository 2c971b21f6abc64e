"""A health check of a kept PostgreSQL connection that a hung server cannot stretch.

    answered_within(connection, 5.0)   # a psycopg 3 Connection: True, False, or None
    # True: the server answered SELECT 1; False: it answered with an error or the connection
    # is broken; None: no answer within 5 s (the connection is closed then, never reused)

Django's ``is_usable()`` (``CONN_HEALTH_CHECKS``) and psycopg_pool's ``check_connection`` (the
pool's check on ``getconn()``) run a statement with no client-side deadline. A SIGSTOPped
server, or a frozen disk, answers nothing while its kernel acknowledges every packet, so TCP
keepalives and ``tcp_user_timeout`` never fire and the server's own timeouts do not run: the
check waited for the whole hang (20 s, 176 s). Here the statement is sent on libpq's
connection (psycopg's public ``pgconn``, non-blocking) and the answer awaited with
``select()`` until the deadline: no thread, no timer, the same round trip as before.
"""

from __future__ import annotations

import select
import time
from typing import Any

__all__ = ["answered_within", "check_deadline"]

_ANSWERED = frozenset({0, 1, 2})  # libpq's ExecStatusType: EMPTY_QUERY, COMMAND_OK, TUPLES_OK
DEFAULT_DEADLINE = 5.0  # settings.url.PRIMARY_CONNECT_TIMEOUT: the documented bound


def check_deadline(settings_dict: dict[str, Any]) -> float:
    """The seconds a health check of this database waits: its ``connect_timeout`` (libpq's
    bound on a new connection), 5 s when it has none."""
    seconds = (settings_dict.get("OPTIONS") or {}).get("connect_timeout")
    try:
        return float(seconds) if seconds and float(seconds) > 0 else DEFAULT_DEADLINE
    except (TypeError, ValueError):
        return DEFAULT_DEADLINE


def answered_within(connection: Any, seconds: float) -> bool | None:
    """Whether ``connection`` (psycopg 3) answers ``SELECT 1`` within ``seconds``; None when it
    did not answer in time, and the connection is closed (a late answer would be read as the
    answer of the next statement)."""
    if connection.closed:
        return False
    with connection.lock:  # psycopg's own: no statement of another thread in between
        try:
            answered = _round_trip(connection.pgconn, time.monotonic() + seconds)
        except Exception:  # psycopg.OperationalError: the connection broke
            return False
    if answered is None:
        connection.close()
    return answered


def _round_trip(pgconn: Any, deadline: float) -> bool | None:
    pgconn.send_query(b"SELECT 1")
    fileno = pgconn.socket
    while pgconn.flush():  # a non-blocking connection may keep part of the query
        if not _ready(fileno, deadline, write=True):
            return None
    while True:
        pgconn.consume_input()
        if not pgconn.is_busy():
            break
        if not _ready(fileno, deadline, write=False):
            return None
    answered = True
    while (result := pgconn.get_result()) is not None:
        answered = answered and int(result.status) in _ANSWERED
    return answered


def _ready(fileno: int, deadline: float, *, write: bool) -> bool:
    """Waits until the socket is readable (writable) or the deadline passed; False then.
    ``poll()``, not ``select()``: a process with many connections has descriptors past 1024."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return False
    waiting = select.poll()
    waiting.register(fileno, select.POLLOUT if write else select.POLLIN)
    return bool(waiting.poll(remaining * 1000)) or time.monotonic() < deadline
