"""When a read must come from the primary: ``use_primary()`` and read-your-writes.

    with use_primary():                 # or @use_primary, or async with use_primary():
        order = Order.objects.get(pk=pk)

Read-your-writes needs nothing from you: a write through the ORM marks its primary in this
context (request, asyncio task, thread), and later reads of that primary's data in the same
context stay on the primary until a replica has replayed the write (PostgreSQL: its WAL
position; other engines: for ``pin_seconds``). ``ReadYourWritesMiddleware`` (installed by
``DjangoConfig`` with the first replica) gives every request its own state and carries the
marker to the user's next requests in a signed cookie, so a POST is followed by GETs that see it.

The state lives in a ``ContextVar`` and is never mutated in place: two asyncio tasks never
share a pin, and ``sync_to_async`` code sees (and returns) the pins of its caller.
"""

from __future__ import annotations

import functools
import inspect
import math
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.core.signing import BadSignature
from django.http import HttpRequest, HttpResponseBase

from django_cfg.settings.replica_options import REPLICA_DEFAULTS

if TYPE_CHECKING:
    from django_cfg.routing.runtime import DatabaseRuntime

__all__ = [
    "COOKIE_NAME",
    "PinPolicy",
    "PinState",
    "ReadYourWritesMiddleware",
    "Write",
    "current_pins",
    "use_primary",
]

COOKIE_NAME = "django_cfg_pins"
_COOKIE_SALT = "django_cfg.pinning"

F = TypeVar("F", bound=Callable[..., Any])


# The three records below are read on every routed write and pinned read: slotted dataclasses,
# whose attributes load fast (a NamedTuple's field access is a descriptor call, ~200 instructions
# more each). Not frozen: a frozen dataclass costs ~3.5M instructions to define at startup. They
# are replaced, never changed in place (a context's PinState is shared with the contexts copied
# from it).


@dataclass(slots=True)
class Write:
    """A write to a primary: its WAL position once known (PostgreSQL), and when (epoch s)."""

    lsn: int | None
    at: float


@dataclass(slots=True)
class PinState:
    forced: int = 0
    writes: dict[str, Write] = field(default_factory=dict)  # replaced, never changed in place

    def with_write(self, primary: str, write: Write | None) -> PinState:
        writes = dict(self.writes)
        if write is None:
            writes.pop(primary, None)
        else:
            writes[primary] = write
        if not writes and not self.forced:
            return EMPTY
        return PinState(self.forced, writes)


EMPTY = PinState()
"""The state of a context with no pins: always this object, so a check is one identity test."""
_state: ContextVar[PinState] = ContextVar("django_cfg_read_pins", default=EMPTY)


current_pins = _state.get
"""This context's ``PinState``: ``forced`` (use_primary depth) and the primaries it wrote to."""


@dataclass(slots=True)
class PinPolicy:
    """How long a write pins reads, and how often a burst of writes refreshes its marker.

    The runtime holds one (``current_runtime().pins``), built from ``pin_seconds`` of
    DATABASE_REPLICA_OPTIONS; the router, the middleware and the cookie all ask it.
    """

    pin_seconds: float = REPLICA_DEFAULTS.pin_seconds
    note_again_after: float = 0.05
    """Seconds: a burst of writes refreshes its pending marker at most this often."""

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
        _state.set(replace(_state.get(), forced=_state.get().forced + 1))

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
            _state.set(replace(state, forced=max(0, state.forced - 1)))

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


# Across requests ---------------------------------------------------------------------------------


def _parse_cookie(
    value: str, primaries: Callable[[str], bool], now: float, lifetime: float
) -> PinState:
    """The markers of a cookie this middleware signed; ValueError for anything else.

    The signature proves the server wrote it, not that it still makes sense: a deploy may have
    removed or renamed the alias, made it a replica or taken its replicas away, and a cookie
    signed by an older release (or with a leaked key) may hold anything. A marker counts only
    for a primary that has replicas now (``primaries(alias)``), with an ASCII-digit WAL position
    and a finite write time no later than ``lifetime`` from now; any other content makes the
    whole cookie ignored.
    """
    writes: dict[str, Write] = {}
    for item in filter(None, value.split(",")):
        alias, lsn, at = item.split(":")
        written = float(at)
        if not (lsn == "" or (lsn.isascii() and lsn.isdigit())):
            raise ValueError("WAL position is not ASCII digits")
        if not math.isfinite(written) or written > now + lifetime:
            raise ValueError("write time is not a time of this pin's lifetime")
        if primaries(alias):  # a removed alias pins nothing: dropped, the rest kept
            writes[alias] = Write(int(lsn) if lsn else None, written)
    return PinState(writes=writes) if writes else EMPTY


def _cookie_value(state: PinState) -> str:
    return ",".join(
        f"{alias}:{'' if w.lsn is None else w.lsn}:{w.at:.3f}" for alias, w in state.writes.items()
    )


class ReadYourWritesMiddleware:
    """Gives each request its own pin state, and carries write markers to the next requests."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        token = _state.set(self._incoming(request))
        try:
            response = self.get_response(request)
            self._outgoing(request, response)
        finally:
            _state.reset(token)
        return response

    async def __acall__(self, request: HttpRequest) -> Any:
        token = _state.set(self._incoming(request))
        try:
            response = await self.get_response(request)
            await sync_to_async(self._outgoing)(request, response)
        finally:
            _state.reset(token)
        return response

    @staticmethod
    def _incoming(request: HttpRequest) -> PinState:
        from django_cfg.routing.runtime import current_runtime

        raw = request.COOKIES.get(COOKIE_NAME)
        if not raw:
            return EMPTY
        runtime = current_runtime()
        policy = runtime.pins
        lifetime = policy.pin_seconds
        try:
            value = request.get_signed_cookie(
                COOKIE_NAME, salt=_COOKIE_SALT, max_age=timedelta(seconds=lifetime)
            )
            # The primaries that have replicas in this deploy: the only aliases a marker names.
            state = _parse_cookie(value or "", _markable(runtime), time.time(), lifetime)
        except (BadSignature, ValueError, OverflowError):
            return EMPTY  # not this deploy's cookie: ignored, and deleted with the response
        # A marker lives pin_seconds from its write, however often the cookie is sent back.
        for primary, write in state.writes.items():
            if not policy.within_window(write):
                state = state.with_write(primary, None)
        return state

    @staticmethod
    def _outgoing(request: HttpRequest, response: HttpResponseBase) -> None:
        from django_cfg.routing.runtime import current_runtime

        runtime = current_runtime()
        monitor = runtime.monitor
        state = _state.get()
        for primary, write in state.writes.items():
            if write.lsn is None and monitor is not None and primary in runtime.lsn_primaries:
                # None: the primary cannot answer (the write failed, or it went away since):
                # no marker, and no 500 for a response the view has already made.
                lsn = monitor.pin_position(primary)
                state = state.with_write(primary, None if lsn is None else Write(lsn, write.at))
        if state.writes:
            response.set_signed_cookie(
                COOKIE_NAME,
                _cookie_value(state),
                salt=_COOKIE_SALT,
                max_age=int(runtime.pins.pin_seconds) or 1,
                httponly=True,
                samesite="Lax",
                secure=request.is_secure(),
            )
        elif COOKIE_NAME in request.COOKIES:
            response.delete_cookie(COOKIE_NAME, samesite="Lax")


def _markable(runtime: DatabaseRuntime) -> Callable[[str], bool]:
    """Whether a cookie's marker may name an alias: a primary with replicas now, or, with
    tenants, any tenant's database (a process adds a tenant's database and its replicas at its
    first query, after the request's cookie was read)."""
    from django_cfg.routing.topology import TENANT_HOME

    replicated = runtime.replicated
    if TENANT_HOME not in runtime.homes.values():
        return replicated.__contains__
    from django_cfg.tenants.registry import tenant_of_alias

    return lambda alias: alias in replicated or tenant_of_alias(alias) is not None
