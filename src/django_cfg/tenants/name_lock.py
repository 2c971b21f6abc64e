"""One process at a time creates or drops a tenant of a given name, and a killed one lets go.

    with tenant_name_lock("acme") as held:
        if not held:
            ...  # another process or thread is creating or dropping acme right now
        ...      # claim, provision, mark ready: nobody else does it meanwhile

The lock lives where the tenants table does (``default``), so it covers every process that
shares that table, and it dies with its holder (kill -9 included): a creation interrupted at
any step can be taken over at once (``tenants.lifecycle``). It never waits.

PostgreSQL: ``pg_try_advisory_xact_lock`` in a transaction that a connection of its own keeps
open (safe behind a transaction pooler, as ``django_cfg.schema.lock``). MySQL/MariaDB:
``GET_LOCK(..., 0)`` on a connection of its own. SQLite: a POSIX byte-range lock, one byte per
name, in ``<default file>.tenant-locks`` (the kernel releases it when the process dies); an
in-memory ``default`` is one process: the in-process guard alone applies.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections

from django_cfg.settings.sqlite import names_a_file

__all__ = ["tenant_name_lock"]

_LOCK_PREFIX = "django_cfg.tenant:"
_in_process: set[str] = set()  # names held by a thread of this process
_guard = threading.Lock()
_files: dict[str, int] = {}
"""lock file -> the descriptor this process keeps open: closing any descriptor of a file
releases every POSIX lock the process holds on it, so there is one, never closed."""


def _digest(name: str) -> bytes:
    return hashlib.sha256((_LOCK_PREFIX + name).encode()).digest()


@contextmanager
def tenant_name_lock(name: str) -> Iterator[bool]:
    """Hold the lock of tenant ``name`` for the block if it is free; yields whether it is
    held (False: another process or thread holds it; nothing was taken)."""
    with _guard:
        if name in _in_process:
            held_here = False
        else:
            _in_process.add(name)
            held_here = True
    if not held_here:
        yield False
        return
    try:
        vendor = connections[DEFAULT_DB_ALIAS].vendor
        locker = {"postgresql": _postgresql, "mysql": _mysql, "sqlite": _sqlite}.get(vendor)
        if locker is None:
            yield True
        else:
            with locker(name) as held:
                yield held
    finally:
        with _guard:
            _in_process.discard(name)


@contextmanager
def _postgresql(name: str) -> Iterator[bool]:
    key = int.from_bytes(_digest(name)[:8], "big", signed=True)
    connection = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        connection.set_autocommit(False)  # one transaction, open until the block ends
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [key])
            held = bool(cursor.fetchone()[0])
        yield held
    finally:
        try:
            if connection.connection is not None:
                connection.connection.rollback()  # ends the transaction: releases the lock
        finally:
            connection.close()


@contextmanager
def _mysql(name: str) -> Iterator[bool]:
    connection = connections.create_connection(DEFAULT_DB_ALIAS)
    lock = f"django_cfg.tenant.{_digest(name).hex()[:40]}"  # GET_LOCK names: 64 characters
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, 0)", [lock])
            held = cursor.fetchone()[0] == 1
        yield held
    finally:
        connection.close()  # releases the lock with the session


@contextmanager
def _sqlite(name: str) -> Iterator[bool]:
    database = str(connections[DEFAULT_DB_ALIAS].settings_dict["NAME"])
    if not names_a_file(database):
        yield True
        return
    path = os.path.abspath(database) + ".tenant-locks"
    with _guard:
        descriptor = _files.get(path)
        if descriptor is None:
            descriptor = _files[path] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    offset = int.from_bytes(_digest(name)[:5], "big")  # one byte of a 1 TB sparse range
    try:
        fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
    except OSError:
        yield False
        return
    try:
        yield True
    finally:
        fcntl.lockf(descriptor, fcntl.LOCK_UN, 1, offset)
