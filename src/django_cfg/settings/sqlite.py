"""Which SQLite ``NAME`` is a file on disk: the rule written once.

from django_cfg.settings.sqlite import names_a_file

names_a_file("db/default.sqlite3")                  # True: a path (created on connect)
names_a_file(":memory:")                            # False: in memory
names_a_file("file:memdb1?mode=memory&cache=shared")  # False: a URI, Django passes it on
"""

from __future__ import annotations

MEMORY = ":memory:"


def names_a_file(name: str) -> bool:
    """Whether SQLite ``name`` is a file path (not ``:memory:``, a ``file:`` URI or an
    in-memory ``mode=memory`` name). A ``file:`` URI is left as written: it may name memory."""
    return name != MEMORY and not name.startswith("file:") and "mode=memory" not in name
