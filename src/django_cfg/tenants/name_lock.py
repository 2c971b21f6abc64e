"""One process at a time creates or drops a tenant of a given name, and a killed one lets go.

    with tenant_name_lock("acme") as held:
        if not held:
            ...  # another process or thread is creating or dropping acme right now
        ...      # claim, provision, mark ready: nobody else does it meanwhile

The lock lives where the tenants table does (``default``), so it covers every process that
shares that table, and it dies with its holder (kill -9 included): a creation interrupted at
any step can be taken over at once (``tenants.lifecycle``). It never waits. It is
``django_cfg.runtime.server_locks``' lock ``"tenant-name:<name>"`` (SQLite files: one lock file
per name in ``<default file>.tenant-name-locks/``; in-memory: among this process's threads).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS

from django_cfg.runtime.server_locks import server_lock

__all__ = ["tenant_name_lock"]


@contextmanager
def tenant_name_lock(name: str) -> Iterator[bool]:
    """Hold the lock of tenant ``name`` for the block if it is free; yields whether it is
    held (False: another process or thread holds it; nothing was taken)."""
    with server_lock(DEFAULT_DB_ALIAS, f"tenant-name:{name}", blocking=False) as held:
        yield held
