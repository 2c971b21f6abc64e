"""A named lock on a database's server, held for the length of a block, dying with its holder.

    with server_lock("default", "migrate", wait=lambda: print("waiting...")):
        ...  # one holder of "migrate" on default's database at a time: processes, machines
    with server_lock("default", "tenant-name:acme", blocking=False) as held:
        if not held:
            ...  # someone holds it right now; nothing was taken, nothing waited

A name is ``"<kind>"`` or ``"<kind>:<key>"`` (a family of locks, such as one per tenant); kinds
are lowercase letters, digits, ``-`` and ``_``. Each lock lives on the server of ``alias`` (one
per database), on a connection of its own, so the project's transactions neither end it nor
keep it, and a killed holder (kill -9 included) lets go:

- PostgreSQL: ``pg_advisory_xact_lock`` (key: ``advisory_key``) in a transaction that the
  lock's connection keeps open for the block. Unlike a session-level lock it is safe behind a
  transaction pooler (PgBouncer): it lives and dies with that one transaction, which pins one
  server connection, so it can neither stay on a pooled connection for the next client to
  re-enter nor be left for a client elsewhere to wait on forever.
- MySQL/MariaDB: ``GET_LOCK`` (name: ``mysql_lock_name``, with the database's name: its lock
  names are server-wide), released when the lock's connection closes.
- SQLite file: ``fcntl.flock`` on ``lock_file`` beside the database. flock conflicts between
  any two opens of a file, threads of one process included, so nothing is kept open between
  blocks. Lock files are never deleted: a file deleted while locked lets a third holder lock a
  new one.
- In-memory SQLite and other vendors: the process is the only client, so the lock is held
  among its threads (``ProcessState.server_locks``).

``blocking=True`` calls ``wait()`` once if the lock is taken, then waits for it: up to
``WAIT_SECONDS`` on PostgreSQL and MySQL (then ``TimeoutError`` naming the alias), for as long
as it takes on SQLite and in-process.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from django.db import DatabaseError, OperationalError, connections

from django_cfg.runtime.runtime import current_runtime
from django_cfg.settings.sqlite import names_a_file

__all__ = [
    "WAIT_SECONDS",
    "advisory_key",
    "file_lock",
    "lock_file",
    "mysql_lock_name",
    "server_lock",
]

WAIT_SECONDS = 3600
"""How long a blocking lock waits on PostgreSQL and MySQL before ``TimeoutError``."""
_KIND = re.compile(r"[a-z0-9][a-z0-9_-]*")
_MYSQL_NAME_LENGTH = 64  # GET_LOCK refuses longer names
_LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: lock_timeout expired

Locker = Callable[[str, str, Callable[[], None] | None, bool], AbstractContextManager[bool]]


@contextmanager
def server_lock(
    alias: str, name: str, *, wait: Callable[[], None] | None = None, blocking: bool = True
) -> Iterator[bool]:
    """Hold lock ``name`` on database ``alias``'s server for the block; yields whether it is
    held (always True when ``blocking``; False: someone else holds it, nothing was taken)."""
    _check_name(name)
    with _locker_for(alias)(alias, name, wait, blocking) as held:
        yield held


def advisory_key(name: str) -> int:
    """PostgreSQL's advisory lock key (a signed bigint) of lock ``name``."""
    digest = hashlib.sha256(f"django_cfg.{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def mysql_lock_name(database: str, name: str) -> str:
    """The ``GET_LOCK`` name of lock ``name`` on ``database`` (hashed when it is too long)."""
    readable = f"django_cfg.{name}.{database}"
    if len(readable) <= _MYSQL_NAME_LENGTH:
        return readable
    digest = hashlib.sha256(readable.encode()).hexdigest()
    return f"django_cfg.{digest}"[:_MYSQL_NAME_LENGTH]


def lock_file(database: str, name: str) -> Path:
    """The file flock-ed for lock ``name`` of SQLite file ``database``: ``<file>.<kind>-lock``,
    or ``<file>.<kind>-locks/<digest of key>`` for a name ``"<kind>:<key>"``."""
    path = Path(os.path.abspath(database))
    kind, separator, key = name.partition(":")
    if not separator:
        return path.with_name(f"{path.name}.{kind}-lock")
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return path.with_name(f"{path.name}.{kind}-locks") / digest


def _check_name(name: str) -> None:
    kind = name.partition(":")[0]
    if not _KIND.fullmatch(kind):
        raise ValueError(
            f"server lock name {name!r}: its kind {kind!r} (before any ':') must be lowercase "
            "letters, digits, '-' and '_' (it names a lock file beside a SQLite database)."
        )


def _locker_for(alias: str) -> Locker:
    connection = connections[alias]
    if connection.vendor == "postgresql":
        return _postgresql
    if connection.vendor == "mysql":
        return _mysql
    if connection.vendor == "sqlite" and names_a_file(str(connection.settings_dict["NAME"])):
        return _sqlite_file
    return _in_process


def _timed_out(alias: str, name: str) -> TimeoutError:
    return TimeoutError(
        f"database {alias!r}: lock {name!r} stayed taken for {WAIT_SECONDS} s. Find its holder "
        "(another migrate_all or tenant creation still running?), then try again."
    )


@contextmanager
def _postgresql(
    alias: str, name: str, wait: Callable[[], None] | None, blocking: bool
) -> Iterator[bool]:
    key = advisory_key(name)
    connection = connections.create_connection(alias)
    try:
        connection.set_autocommit(False)  # one transaction, open until the block ends
        with connection.cursor() as cursor:
            # A server that ends idle transactions would end the lock with it.
            cursor.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [key])
            held = bool(cursor.fetchone()[0])
            if not held and blocking:
                if wait is not None:
                    wait()
                cursor.execute("SET LOCAL statement_timeout = 0")
                cursor.execute(f"SET LOCAL lock_timeout = '{int(WAIT_SECONDS)}s'")
                try:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
                except OperationalError as error:
                    if getattr(error.__cause__, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
                        raise _timed_out(alias, name) from error
                    raise
                held = True
        yield held
    finally:
        try:
            if connection.connection is not None:
                connection.connection.rollback()  # ends the transaction: releases the lock
        finally:
            connection.close()


@contextmanager
def _mysql(
    alias: str, name: str, wait: Callable[[], None] | None, blocking: bool
) -> Iterator[bool]:
    connection = connections.create_connection(alias)
    held = False
    try:
        lock = mysql_lock_name(str(connection.settings_dict["NAME"]), name)
        with connection.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, 0)", [lock])
            held = cursor.fetchone()[0] == 1
            if not held and blocking:
                if wait is not None:
                    wait()
                cursor.execute("SELECT GET_LOCK(%s, %s)", [lock, WAIT_SECONDS])
                if cursor.fetchone()[0] != 1:
                    raise _timed_out(alias, name)
                held = True
        yield held
    finally:
        # Released now: the server releases a closed session's locks only once it has seen
        # the disconnect, a moment later (the next taker could still find it held). A session
        # that died has released it already.
        try:
            if held:
                with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
                    cursor.execute("SELECT RELEASE_LOCK(%s)", [lock])
        finally:
            connection.close()


@contextmanager
def _sqlite_file(
    alias: str, name: str, wait: Callable[[], None] | None, blocking: bool
) -> Iterator[bool]:
    with file_lock(str(connections[alias].settings_dict["NAME"]), name, wait, blocking) as held:
        yield held


@contextmanager
def file_lock(
    database: str, name: str, wait: Callable[[], None] | None = None, blocking: bool = True
) -> Iterator[bool]:
    """Lock ``name`` of SQLite file ``database`` (``lock_file``), as ``server_lock`` takes it
    for an alias: also for a file no alias names (the tenants' template). Released when the
    block ends or the holder dies."""
    path = lock_file(database, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:  # its own open file description: conflicts with any other
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = True
        except BlockingIOError:
            held = False
        if not held and blocking:
            if wait is not None:
                wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
            held = True
        yield held  # closing the file releases the lock


@contextmanager
def _in_process(
    alias: str, name: str, wait: Callable[[], None] | None, blocking: bool
) -> Iterator[bool]:
    state = current_runtime().state
    lock = (alias, name)
    with state.server_locks_released:
        held = lock not in state.server_locks
        if held:
            state.server_locks.add(lock)
    if not held and blocking:
        if wait is not None:
            wait()
        with state.server_locks_released:
            state.server_locks_released.wait_for(lambda: lock not in state.server_locks)
            state.server_locks.add(lock)
        held = True
    try:
        yield held
    finally:
        if held:
            with state.server_locks_released:
                state.server_locks.discard(lock)
                state.server_locks_released.notify_all()
