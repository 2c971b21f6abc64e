"""Checking the names given to ``--database``, with a suggestion for a typo.

check_database_option(["defualt"])
# CommandError: --database defualt: no database 'defualt' in DATABASES. Did you mean
# 'default'? Databases: default, blog_db, shop_db.
did_you_mean("acm", ["acme", "beta"])     # " Did you mean 'acme'?"
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from django.core.management.base import CommandError
from django.db import connections

from django_cfg.tenants.registry import current_registry, tenant_of_alias

__all__ = ["check_database_option", "did_you_mean"]

SHOWN_NAMES = 20
"""How many known names an error lists (a project may have 1,000 tenants)."""


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``" Did you mean 'x'?"`` (or ``'x' or 'y'``) for the names closest to ``name``; ``""``
    when none is close (``difflib.get_close_matches``, its default cutoff 0.6)."""
    close = difflib.get_close_matches(name, list(known), n=3)
    if not close:
        return ""
    return f" Did you mean {' or '.join(repr(c) for c in close)}?"


def listed(names: Sequence[str]) -> str:
    """``a, b, c`` (the first ``SHOWN_NAMES``, then ``... (N in all)``)."""
    if len(names) <= SHOWN_NAMES:
        return ", ".join(names)
    return f"{', '.join(names[:SHOWN_NAMES])}, ... ({len(names)} in all)"


def check_database_option(requested: Sequence[str] | None) -> None:
    """Every alias of ``--database`` is in ``DATABASES``, or a ``CommandError`` naming the
    closest alias (or ``--tenant NAME`` for a tenant's alias)."""
    known = list(connections.settings)
    for alias in requested or ():
        if alias in known:
            continue
        tenant = tenant_of_alias(alias) if current_registry() is not None else None
        if tenant is not None:
            raise CommandError(
                f"--database {alias}: no such database in DATABASES ({alias} is tenant "
                f"{tenant}'s database: use --tenant {tenant})."
            )
        raise CommandError(
            f"--database {alias}: no such database in DATABASES (databases: {listed(known)})."
            + did_you_mean(alias, known)
        )
