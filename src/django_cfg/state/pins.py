"""When a read must come from the primary: ``use_primary()`` and read-your-writes.

    with use_primary():                 # or @use_primary, or async with use_primary():
        order = Order.objects.get(pk=pk)

Read-your-writes needs nothing from you: a write through the ORM marks its primary in this
context (request, asyncio task, thread), and later reads of that primary's data in the same
context stay on the primary until a replica has replayed the write (PostgreSQL: its WAL
position; other engines: for ``pin_seconds``).
``django_cfg.replicas.pinning.ReadYourWritesMiddleware`` gives every request its own state and
carries the marker to the next requests in a cookie.

The state lives in a ``ContextVar`` and is never mutated in place: two asyncio tasks never
share a pin, and ``sync_to_async`` code sees (and returns) the pins of its caller.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, TypeVar

from django_cfg.settings.replica_options import REPLICA_DEFAULTS
from django_cfg.state.value_record import ValueRecord

__all__ = [
    "EMPTY",
    "PinPolicy",
    "PinState",
    "Write",
    "current_pins",
    "drop_pending",
    "replace_pins",
    "restore_pins",
    "set_write",
    "use_primary",
]

F = TypeVar("F", bound=Callable[..., Any])


# The three records below are read on every routed write and pinned read: slotted classes,
# whose attributes load fast (a NamedTuple's field access is a descriptor call, ~200 instructions
# more each). Written out rather than dataclasses: defining a dataclass runs its generated
# methods' source through exec(), ~2M instructions each at every startup (issue 23). They are
# replaced, never changed in place (a context's PinState is shared with the contexts copied
# from it).


class Write(ValueRecord):
    """A write to a primary: its WAL position once known (PostgreSQL), and when (epoch s)."""

    __slots__ = ("at", "lsn")

    def __init__(self, lsn: int | None, at: float) -> None:
        self.lsn = lsn
        self.at = at

    def __repr__(self) -> str:
        return f"Write(lsn={self.lsn!r}, at={self.at!r})"


class PinState(ValueRecord):
    """A context's pins: ``forced`` (``use_primary`` depth) and the primaries it wrote to."""

    __slots__ = ("forced", "writes")

    def __init__(self, forced: int = 0, writes: dict[str, Write] | None = None) -> None:
        self.forced = forced
        self.writes: dict[str, Write] = {} if writes is None else writes  # replaced, never
        # changed in place

    def __repr__(self) -> str:
        return f"PinState(forced={self.forced!r}, writes={self.writes!r})"

    def with_write(self, primary: str, write: Write | None) -> PinState:
        writes = dict(self.writes)
        if write is None:
            writes.pop(primary, None)
        else:
            writes[primary] = write
        if not writes and not self.forced:
            return EMPTY
        return PinState(self.forced, writes)

    def with_forced(self, forced: int) -> PinState:
        """The same writes, ``forced`` deep in ``use_primary``."""
        return PinState(forced, self.writes)


EMPTY = PinState()
"""The state of a context with no pins: always this object, so a check is one identity test."""
_state: ContextVar[PinState] = ContextVar("django_cfg_read_pins", default=EMPTY)


current_pins = _state.get
"""This context's ``PinState``: ``forced`` (use_primary depth) and the primaries it wrote to."""


def replace_pins(state: PinState) -> Token[PinState]:
    """Make ``state`` this context's pins until ``restore_pins(token)`` (a request's own)."""
    return _state.set(state)


restore_pins = _state.reset
"""Give this context back the pins it had before ``replace_pins`` returned ``token``."""


class PinPolicy(ValueRecord):
    """How long a write pins reads, and how often a burst of writes refreshes its marker.

    The runtime holds one (``current_runtime().pins``), built from ``pin_seconds`` of
    DATABASE_REPLICA_OPTIONS; the router, the middleware and the cookie all ask it.
    """

    __slots__ = ("note_again_after", "pin_seconds")

    def __init__(
        self, pin_seconds: float = REPLICA_DEFAULTS.pin_seconds, note_again_after: float = 0.05
    ) -> None:
        self.pin_seconds = pin_seconds
        self.note_again_after = note_again_after
        """Seconds: a burst of writes refreshes its pending marker at most this often."""

    def __repr__(self) -> str:
        return (
            f"PinPolicy(pin_seconds={self.pin_seconds!r}, "
            f"note_again_after={self.note_again_after!r})"
        )

    def within_window(self, write: Write) -> bool:
        """Whether ``write`` still pins reads by time (engines without WAL positions)."""
        return time.time() - write.at < self.pin_seconds

    def note_write(self, primary: str, by_position: bool) -> None:
        """Mark this context as having written to ``primary`` (the router calls it for every
        write routed to a primary with replicas). ``by_position``: the primary's WAL position
        is read at the next read (PostgreSQL), so a marker waiting for it needs nothing more;
        a time marker is refreshed at most every ``note_again_after`` seconds."""
        state = _state.get()
        pending = state.writes.get(primary)
        if (
            pending is not None
            and pending.lsn is None
            and (by_position or time.time() - pending.at < self.note_again_after)
        ):
            return
        _state.set(state.with_write(primary, Write(None, time.time())))


def set_write(primary: str, write: Write | None) -> None:
    _state.set(_state.get().with_write(primary, write))


def drop_pending(primary: str) -> None:
    """Forget this context's marker for ``primary`` while its WAL position is not yet known: the
    primary could not be reached, so the write it marks failed or cannot be located."""
    write = _state.get().writes.get(primary)
    if write is not None and write.lsn is None:
        set_write(primary, None)


class use_primary:
    """Send every read in this block (or call) to the primary; nests; sync and async."""

    def __enter__(self) -> None:
        _state.set(_state.get().with_forced(_state.get().forced + 1))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Not ContextVar.reset(): writes made inside the block must stay remembered after it.
        state = _state.get()
        if state.forced <= 1 and not state.writes:
            _state.set(EMPTY)  # the router's fast path recognises this one object
        else:
            _state.set(state.with_forced(max(0, state.forced - 1)))

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(self, *exc_info: Any) -> None:
        self.__exit__(*exc_info)

    def __call__(self, function: F) -> F:
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                async with use_primary():
                    return await function(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with use_primary():
                return function(*args, **kwargs)

        return run  # type: ignore[return-value]
