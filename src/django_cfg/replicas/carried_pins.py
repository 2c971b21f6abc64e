"""Read-your-writes markers that travel with background work, from where it is queued to where
it runs, as the tenant does.

    order = Order.objects.create(...)          # marks the primary in this context
    send_receipt.delay(order.pk)               # the worker reads the order from the primary
                                               # until a replica has replayed the write

The Celery integration (``django_cfg.replicas.celery``) and the tenant-aware Django task backends
(``django_cfg.tenants.tasks``) put ``pins_to_carry()`` in the message and run the task inside
``carrying_pins(text)``: the task starts with the markers of the code that queued it (and no
others: never those of the task the worker ran before). A marker with a WAL position pins
until a replica has replayed it (PostgreSQL); one whose position was not read yet has its
position read by the task's first read of that primary; other engines pin for ``pin_seconds``
from the write, as the cookie of ``ReadYourWritesMiddleware`` does.
"""

from __future__ import annotations

import time
from contextvars import Token
from types import TracebackType

from django_cfg.replicas.pinning import markable, markers_text, parse_markers
from django_cfg.runtime.runtime import current_runtime
from django_cfg.state.pins import EMPTY, PinState, current_pins, replace_pins, restore_pins

__all__ = ["PINS_KEY", "carried_state", "carrying_pins", "pins_to_carry"]

PINS_KEY = "django_cfg_pins"
"""The Celery header / Django task keyword argument that carries the markers."""


def pins_to_carry() -> str | None:
    """This context's write markers as text, or None when it wrote to no primary with replicas."""
    state = current_pins()
    return markers_text(state) if state.writes else None


def carried_state(text: object) -> PinState:
    """The pins a task starts with: the markers in ``text`` for primaries that have replicas
    (or tenants' databases) here; none for no text, or text that is not markers."""
    if not isinstance(text, str) or not text:
        return EMPTY
    runtime = current_runtime()
    try:
        return parse_markers(text, markable(runtime), time.time(), runtime.pins.pin_seconds)
    except (ValueError, OverflowError):
        return EMPTY


class carrying_pins:
    """Run a block (one task) with the pins ``text`` carries, then give the context back the
    pins it had: a worker's next task starts clean."""

    __slots__ = ("_text", "_token")

    def __init__(self, text: object) -> None:
        self._text = text
        self._token: Token[PinState] | None = None

    def __enter__(self) -> None:
        self._token = replace_pins(carried_state(self._text))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._token is not None:
            restore_pins(self._token)
            self._token = None

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.__exit__(None, None, None)
