"""Alias tables that only grow, shared by the runtimes derived one from another as tenants open.

    roles = GrowingTable({"default": role})
    roles["tenant_acme"] = acme_role      # by the one runtime allowed to (DatabaseRuntime)
    for alias, role in roles.items():     # a snapshot: safe while another thread adds
        ...
    aliases = AliasPrefix(names, 3)       # the first 3 names of a list that only grows

Opening a tenant adds one alias to the process (``add_database``). Copying every alias table
per opening made opening n tenants cost n^2 (issue 23, point 1); instead the runtime derived
for a tenant adds the alias to the tables it shares with the runtime it replaces
(``runtime.runtime``). A reader in another thread may be iterating the same table meanwhile:
these tables iterate over a snapshot of their keys taken in one C call (under the GIL, no
thread runs between), never over the live table, so it never meets "changed size during
iteration".
Lookups (``in``, ``[]``, ``get``) are the built-in types' own: the routers' hot path is as fast
as on a plain ``dict`` or ``frozenset``.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, Sequence, ValuesView
from typing import Any, TypeVar, overload

__all__ = ["AliasPrefix", "GrowingSet", "GrowingTable"]

K = TypeVar("K")
V = TypeVar("V")


class GrowingTable(dict[K, V]):
    """A ``dict`` that only grows (no key removed, no value changed) and whose iteration
    (``iter``, ``keys``, ``values``, ``items``, ``copy``) goes over a snapshot: another
    thread may add to it meanwhile."""

    __slots__ = ()

    def snapshot(self) -> dict[K, V]:
        """A plain ``dict`` of what it holds now: the keys listed in one C call, then their
        values (which no addition changes)."""
        return {key: dict.__getitem__(self, key) for key in list(dict.keys(self))}

    def __iter__(self) -> Iterator[K]:
        return iter(list(dict.keys(self)))

    def keys(self) -> KeysView[K]:  # type: ignore[override]
        return self.snapshot().keys()

    def values(self) -> ValuesView[V]:  # type: ignore[override]
        return self.snapshot().values()

    def items(self) -> ItemsView[K, V]:  # type: ignore[override]
        return self.snapshot().items()

    def copy(self) -> dict[K, V]:
        return self.snapshot()


class GrowingSet(set[K]):
    """A ``set`` whose iteration goes over a copy taken atomically (see ``GrowingTable``)."""

    __slots__ = ()

    def __iter__(self) -> Iterator[K]:
        return iter(set.copy(self))  # set's own copy: a C loop over the table


class AliasPrefix(Sequence[str]):
    """The first ``length`` names of ``names``, a list that only grows at its end: a runtime's
    aliases stay exactly what they were when it was made while the next runtimes append theirs.
    Compares equal to the tuple of the same names."""

    __slots__ = ("_length", "_names")

    def __init__(self, names: list[str], length: int) -> None:
        self._names, self._length = names, length

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...

    def __getitem__(self, index: int | slice) -> str | tuple[str, ...]:
        return self._tuple()[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names[: self._length])

    def __contains__(self, name: object) -> bool:
        return name in self._names[: self._length]

    def __add__(self, other: tuple[str, ...]) -> tuple[str, ...]:
        return self._tuple() + tuple(other)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AliasPrefix | tuple):
            return self._tuple() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._tuple())

    def __repr__(self) -> str:
        return repr(self._tuple())

    def _tuple(self) -> tuple[str, ...]:
        return tuple(self._names[: self._length])

    def index(self, value: Any, start: int = 0, stop: int | None = None) -> int:
        return self._tuple().index(value, start, self._length if stop is None else stop)
