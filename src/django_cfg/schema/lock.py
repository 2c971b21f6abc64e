"""One ``migrate_all`` at a time per database, across processes and machines.

    with migration_lock("default", wait=lambda: print("waiting for another migrate_all")):
        call_command("migrate", database="default")

PostgreSQL: a session advisory lock; MySQL/MariaDB: ``GET_LOCK``; both are held on a separate
connection, so the migration's own transactions do not release them. SQLite files: an exclusive
``flock`` on ``<file>.migrate-lock`` beside the database. In-memory SQLite needs no lock.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connections

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
        return
    if vendor not in {"postgresql", "mysql"}:
        yield
        return
    connection = connections.create_connection(alias)
    try:
        with connection.cursor() as cursor:
            if vendor == "postgresql":
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [_PG_KEY])
                if not cursor.fetchone()[0]:
                    if wait:
                        wait()
                    cursor.execute("SELECT pg_advisory_lock(%s)", [_PG_KEY])
            else:
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
        connection.close()  # closing the session releases an advisory lock / GET_LOCK


@contextmanager
def _file_lock(name: str, wait: Callable[[], None] | None) -> Iterator[None]:
    if name == ":memory:" or name.startswith("file:") or "mode=memory" in name:
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
