"""One ``migrate_all`` at a time per database, across processes and machines.

    with migration_lock("default", wait=lambda: print("waiting for another migrate_all")):
        call_command("migrate", database="default")

PostgreSQL: a transaction-level advisory lock (``pg_advisory_xact_lock``) taken in a transaction
that a connection of its own keeps open for the whole run. Unlike a session-level lock, it is
safe behind a transaction pooler (PgBouncer): it lives and dies with that one transaction, which
pins one server connection, so it can neither stay behind on a pooled server connection for the
next client to re-enter, nor be left for a client elsewhere to wait on forever. The same
advisory lock space is shared with session-level locks: it excludes runs of older versions too.
MySQL/MariaDB: ``GET_LOCK`` on a separate connection, so the migration's own transactions do not
release it. SQLite files: an exclusive ``flock`` on ``<file>.migrate-lock`` beside the database.
In-memory SQLite needs no lock.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connections

from django_cfg.settings.sqlite import names_a_file

__all__ = ["migration_lock"]

LOCK_NAME = "django_cfg.migrate_all"
_PG_KEY = int.from_bytes(hashlib.sha256(LOCK_NAME.encode()).digest()[:8], "big", signed=True)
_MYSQL_WAIT_SECONDS = 3600


@contextmanager
def migration_lock(alias: str, wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the migration lock of database ``alias``; ``wait()`` is called if it is taken."""
    vendor = connections[alias].vendor
    if vendor == "sqlite":
        with _file_lock(str(connections[alias].settings_dict["NAME"]), wait):
            yield
    elif vendor == "postgresql":
        with _postgresql_lock(alias, wait):
            yield
    elif vendor == "mysql":
        with _mysql_lock(alias, wait):
            yield
    else:
        yield


@contextmanager
def _postgresql_lock(alias: str, wait: Callable[[], None] | None) -> Iterator[None]:
    connection = connections.create_connection(alias)
    try:
        connection.set_autocommit(False)  # one transaction, open until the run ends
        with connection.cursor() as cursor:
            # A server that ends idle transactions would end the lock with it.
            cursor.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_PG_KEY])
            if not cursor.fetchone()[0]:
                if wait:
                    wait()
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_KEY])
        yield
    finally:
        try:
            if connection.connection is not None:
                connection.connection.rollback()  # ends the transaction: releases the lock
        finally:
            connection.close()


@contextmanager
def _mysql_lock(alias: str, wait: Callable[[], None] | None) -> Iterator[None]:
    connection = connections.create_connection(alias)
    try:
        with connection.cursor() as cursor:
            # GET_LOCK names are server-wide: one lock per database name.
            name = f"{LOCK_NAME}.{connection.settings_dict['NAME']}"[:64]
            cursor.execute("SELECT GET_LOCK(%s, 0)", [name])
            if cursor.fetchone()[0] != 1:
                if wait:
                    wait()
                cursor.execute("SELECT GET_LOCK(%s, %s)", [name, _MYSQL_WAIT_SECONDS])
                if cursor.fetchone()[0] != 1:
                    raise TimeoutError(
                        f"database {alias!r}: another migrate_all held the migration lock "
                        f"for {_MYSQL_WAIT_SECONDS} s."
                    )
        yield
    finally:
        connection.close()  # closing the session releases GET_LOCK


@contextmanager
def _file_lock(name: str, wait: Callable[[], None] | None) -> Iterator[None]:
    if not names_a_file(name):
        yield
        return
    path = Path(name).with_name(Path(name).name + ".migrate-lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if wait:
                wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
