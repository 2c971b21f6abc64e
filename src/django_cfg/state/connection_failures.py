"""Whether an error means the server cannot be reached (what a breaker counts), or is an error of
the SQL that a server that is up answered (what a breaker must never count).

    try:
        cursor.execute("SELECT pg_current_wal_lsn()")
    except Exception as error:
        if not is_connection_failure(error):
            raise                         # e.g. "prepared statement does not exist": reported
        monitor.record_failure("default", error)

A connection failure is an ``OperationalError`` or ``InterfaceError`` (Django's, or the driver's
behind it) that carries no SQLSTATE (refused, timed out, closed under the client) or one of
class 08 (connection exception), 57P01-57P03 (the server shuts down or cannot take connections
yet) or 53300 (too many connections); on MySQL, the client errors of a lost or refused
connection; Python's own ``OSError`` (sockets: refused, reset, timed out, unknown host).
Anything else (syntax, permissions, ``QueryCanceled``, PgBouncer's prepared statements) is
the SQL's error.
"""

from __future__ import annotations

from django.db import InterfaceError, OperationalError

__all__ = ["is_connection_failure"]

_SERVER_GONE_STATES = frozenset({"57P01", "57P02", "57P03", "53300"})
"""admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections."""

_MYSQL_CONNECTION_ERRORS = frozenset({1040, 1053, 2002, 2003, 2005, 2006, 2013, 2055})
"""Too many connections, server shutdown, can't connect (socket, TCP, unknown host), server
gone away, lost connection (also during the handshake)."""


def is_connection_failure(error: BaseException) -> bool:
    """Whether ``error`` says the server was not reached or the connection was lost."""
    if isinstance(error, OSError):
        return True
    driver_error = error.__cause__ if isinstance(error.__cause__, Exception) else error
    if not _is_operational(error) and not _is_operational(driver_error):
        return False
    sqlstate = getattr(driver_error, "sqlstate", None)
    if sqlstate is not None:
        return str(sqlstate).startswith("08") or sqlstate in _SERVER_GONE_STATES
    code = _mysql_code(driver_error)
    if code is not None:
        return code in _MYSQL_CONNECTION_ERRORS
    return True  # libpq's "connection refused", "server closed the connection", a timeout


def _is_operational(error: BaseException) -> bool:
    """Django's or a DB-API driver's OperationalError/InterfaceError (by class name for the
    driver's, so that no driver needs to be importable)."""
    if isinstance(error, (OperationalError, InterfaceError)):
        return True
    names = {cls.__name__ for cls in type(error).__mro__}
    return bool(names & {"OperationalError", "InterfaceError"})


def _mysql_code(error: BaseException) -> int | None:
    """The MySQL client/server error number of ``error`` (mysqlclient, PyMySQL), if any."""
    module = type(error).__module__
    if not module.startswith(("MySQLdb", "pymysql")):
        return None
    args = getattr(error, "args", ())
    return args[0] if args and isinstance(args[0], int) else None
