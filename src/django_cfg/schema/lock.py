"""One ``migrate_all`` at a time per database, across processes and machines.

    with migration_lock("default", wait=lambda: print("waiting for another migrate_all")):
        call_command("migrate", database="default")

The lock is ``django_cfg.runtime.server_locks``' lock ``"migrate"`` on the database's own
server (PostgreSQL: a transaction-level advisory lock, safe behind PgBouncer; MySQL/MariaDB:
``GET_LOCK``; SQLite files: ``<file>.migrate-lock`` beside the database). ``wait()`` is called
once if another run holds it; then it waits (up to an hour on PostgreSQL and MySQL).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django_cfg.runtime.server_locks import server_lock

__all__ = ["LOCK_NAME", "migration_lock"]

LOCK_NAME = "migrate"
"""The server lock's name (SQLite: the ``.migrate-lock`` file)."""


@contextmanager
def migration_lock(alias: str, wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the migration lock of database ``alias``; ``wait()`` is called if it is taken."""
    with server_lock(alias, LOCK_NAME, wait=wait):
        yield
