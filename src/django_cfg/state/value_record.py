"""Records compared by value, as a dataclass's are, without a dataclass's cost at startup.

    class Write(ValueRecord):
        __slots__ = ("at", "lsn")      # or no __slots__: its __dict__ is compared
        def __init__(self, lsn, at): ...

    Write(1, 2.0) == Write(1, 2.0)     # True; unhashable, as a dataclass with eq is

Defining a dataclass runs its generated methods' source through ``exec()``, ~2-4M instructions
each at every ``django.setup()`` (issue 23); the records the runtime defines at startup are
written out on this base instead.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ValueRecord"]


class ValueRecord:
    """Equal to a record of the same class with equal fields (its ``__slots__``, or its
    ``__dict__``); unhashable."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        equal: bool = _fields(self) == _fields(other)
        return equal

    __hash__ = None  # type: ignore[assignment]


def _fields(record: Any) -> Any:
    names = type(record).__dict__.get("__slots__")
    return vars(record) if names is None else tuple(getattr(record, name) for name in names)
