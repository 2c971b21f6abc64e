"""Read-your-writes across requests: ``ReadYourWritesMiddleware`` and its signed cookie.

    MIDDLEWARE = [..., "django_cfg.replicas.pinning.ReadYourWritesMiddleware", ...]

``DjangoConfig`` installs the middleware with the first replica. It gives every request its own
pin state (``django_cfg.state.pins``) and carries this context's write markers to the user's next
requests in a signed cookie, so a POST is followed by GETs that see it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.core.signing import BadSignature
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponseBase

from django_cfg.runtime.runtime import DatabaseRuntime, current_runtime
from django_cfg.settings.tenant_names import tenant_of_alias
from django_cfg.state.pins import EMPTY, PinState, Write, current_pins, replace_pins, restore_pins
from django_cfg.state.topology import TENANT_HOME

__all__ = [
    "COOKIE_NAME",
    "ReadYourWritesMiddleware",
    "markable",
    "markers_text",
    "parse_markers",
]

logger = logging.getLogger("django_cfg.replicas")

COOKIE_NAME = "django_cfg_pins"
_COOKIE_SALT = "django_cfg.pinning"


def parse_markers(
    value: str, primaries: Callable[[str], bool], now: float, lifetime: float
) -> PinState:
    """The markers of a cookie this middleware signed (or of a task's message,
    ``django_cfg.replicas.carried_pins``); ValueError for anything else.

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


def markers_text(state: PinState) -> str:
    """``state``'s write markers as text: ``alias:wal-position:write-time,...``."""
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
        token = replace_pins(self._incoming(request))
        try:
            response = self.get_response(request)
            self._outgoing(request, response)
        finally:
            restore_pins(token)
        return response

    async def __acall__(self, request: HttpRequest) -> Any:
        token = replace_pins(self._incoming(request))
        try:
            response = await self.get_response(request)
            await sync_to_async(self._outgoing)(request, response)
        finally:
            restore_pins(token)
        return response

    @staticmethod
    def _incoming(request: HttpRequest) -> PinState:
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
            state = parse_markers(value or "", markable(runtime), time.time(), lifetime)
        except (BadSignature, ValueError, OverflowError):
            return EMPTY  # not this deploy's cookie: ignored, and deleted with the response
        # A marker lives pin_seconds from its write, however often the cookie is sent back.
        for primary, write in state.writes.items():
            if not policy.within_window(write):
                state = state.with_write(primary, None)
        return state

    @staticmethod
    def _outgoing(request: HttpRequest, response: HttpResponseBase) -> None:
        runtime = current_runtime()
        monitor = runtime.monitor
        state = current_pins()
        for primary, write in state.writes.items():
            if write.lsn is None and monitor is not None and primary in runtime.lsn_primaries:
                # None: the primary cannot answer (the write failed, or it went away since):
                # no marker, and no 500 for a response the view has already made.
                try:
                    lsn = monitor.pin_position(primary)
                except DatabaseError as error:  # the primary is up; its answer is an SQL error
                    logger.warning(
                        "database %r: its WAL position could not be read (%s); the next "
                        "requests read it for pin_seconds instead.",
                        primary,
                        error,
                    )
                    continue  # the marker stays a time marker: safe, and no 500 either
                state = state.with_write(primary, None if lsn is None else Write(lsn, write.at))
        if state.writes:
            response.set_signed_cookie(
                COOKIE_NAME,
                markers_text(state),
                salt=_COOKIE_SALT,
                max_age=int(runtime.pins.pin_seconds) or 1,
                httponly=True,
                samesite="Lax",
                secure=request.is_secure(),
            )
        elif COOKIE_NAME in request.COOKIES:
            response.delete_cookie(COOKIE_NAME, samesite="Lax")


def markable(runtime: DatabaseRuntime) -> Callable[[str], bool]:
    """Whether a cookie's marker may name an alias: a primary with replicas now, or, with
    tenants, any tenant's database (a process adds a tenant's database and its replicas at its
    first query, after the request's cookie was read)."""
    replicated = runtime.replicated
    if TENANT_HOME not in runtime.homes.values():
        return replicated.__contains__
    return lambda alias: alias in replicated or tenant_of_alias(alias) is not None
