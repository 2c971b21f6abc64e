"""The tenant of the running code: a contextvar, so threads, asyncio tasks and ASGI requests
each have their own.

    with use_tenant("acme"):              # or @use_tenant("acme") on a function (sync, async,
                                          # a generator function: while its generators run)
        Post.objects.create(title="hi")   # acme's database

Selecting a tenant does not touch a database: the tenant is checked and its database opened
at the first query of a tenant app (``django_cfg.tenants.registry``).

Blocks that end out of order never leave a tenant selected that no open block selected:

- each block is one entry of this context's selections, and its exit removes that entry (not
  "whatever was selected before it"), in whichever context and order the exits come: a
  generator collected later, the same ``use_tenant`` object entered in two threads;
- a ``with use_tenant()`` block written in a generator's body (sync or async) selects the
  tenant for the generator's own code: while the generator is suspended at a ``yield``, the
  code iterating it keeps its own tenant (a ``@contextmanager`` generator is the exception:
  its block is the caller's ``with`` block, as usual).
"""

from __future__ import annotations

import contextlib
import dis
import functools
import inspect
import sys
import threading
from collections.abc import Callable
from contextvars import ContextVar
from types import FrameType
from typing import Any, TypeVar

from django_cfg.settings.tenant_names import check_tenant_name
from django_cfg.tenants.errors import NoTenantError, UnknownTenantError
from django_cfg.tenants.registry import current_registry

__all__ = [
    "NoTenantError",
    "UnknownTenantError",
    "current_tenant",
    "keeping_tenant",
    "use_tenant",
]

F = TypeVar("F", bound=Callable[..., Any])

_GENERATOR_FLAGS = inspect.CO_GENERATOR | inspect.CO_ASYNC_GENERATOR
_CONTEXT_MANAGER_STEPS = frozenset(
    {  # the frames that run a @contextmanager / @asynccontextmanager generator up to its yield
        contextlib._GeneratorContextManager.__enter__.__code__,
        contextlib._AsyncGeneratorContextManager.__aenter__.__code__,
    }
)
_YIELD_VALUE, _RESUME = dis.opmap["YIELD_VALUE"], dis.opmap["RESUME"]


class _Selection:
    """One entered ``use_tenant`` block."""

    __slots__ = ("frame", "generator", "in_generator", "name", "open", "registry")

    def __init__(
        self, name: str | None, frame: FrameType | None, registry: Any, below: tuple[Any, ...]
    ) -> None:
        self.name = name
        self.frame = frame  # the frame that entered it (its exit normally comes from there)
        self.registry = registry  # in use there until the exit (max_open)
        self.open = True
        self.generator = _generator_body(frame)
        self.in_generator = self.generator is not None or any(s.in_generator for s in below)
        """This block or one below it was entered in a generator's body (the slow path)."""


def _generator_body(frame: FrameType | None) -> FrameType | None:
    """The generator whose code the block selects for: ``frame`` if it is a generator's, else
    None; for a ``@contextmanager`` generator (``with as_tenant("acme"): yield`` wrapping
    ``use_tenant``), the frame running its ``with`` statement, judged the same way."""
    while frame is not None and frame.f_code.co_flags & _GENERATOR_FLAGS:
        driver = frame.f_back
        if driver is None or driver.f_code not in _CONTEXT_MANAGER_STEPS:
            return frame
        frame = driver.f_back  # the code that entered the @contextmanager's block
    return None


def _at_yield(frame: FrameType) -> bool:
    """Whether generator ``frame`` is suspended at a ``yield`` (or ``yield from``): its consumer
    runs. Not at an ``await``: an async generator waiting there still runs, e.g. the thread of
    its ``sync_to_async`` call. Read from the bytecode (``dis``: ``RESUME``'s argument says what
    it resumes from), on CPython 3.11 to 3.13 (tests/tenants/test_context.py)."""
    code, offset = frame.f_code.co_code, frame.f_lasti
    if 0 <= offset < len(code) - 3 and code[offset] == _YIELD_VALUE and code[offset + 2] == _RESUME:
        resumes_from = code[offset + 3]  # 3.11, 3.12: at the YIELD_VALUE
    elif (
        2 <= offset < len(code) - 1 and code[offset] == _RESUME and code[offset - 2] == _YIELD_VALUE
    ):
        resumes_from = code[offset + 1]  # 3.13: at the RESUME after it
    else:
        return False  # running
    return resumes_from & 3 in (1, 2)  # 1: yield, 2: yield from, 3: await


_selections: ContextVar[tuple[_Selection, ...]] = ContextVar("django_cfg_tenant", default=())


def _registry() -> Any:
    """The tenant registry, if Django is configured with tenants (else None)."""
    from django.conf import settings

    if not settings.configured:
        return None
    return current_registry()


def current_tenant() -> str | None:
    """The name of the tenant this context uses, or None."""
    selections = _selections.get()
    if not selections:
        return None
    innermost = selections[-1]
    if innermost.open and not innermost.in_generator:
        return innermost.name
    return _running_selection(selections)


def _running_selection(selections: tuple[_Selection, ...]) -> str | None:
    """The tenant of the innermost open block of the running code: the blocks of a generator
    suspended at a ``yield`` are not its consumer's, and while a generator runs, its blocks
    come after those its consumer opened after them."""
    chosen: _Selection | None = None
    for selection in selections:
        if not selection.open:
            continue
        if selection.generator is not None and _at_yield(selection.generator):
            continue  # its consumer is running
        running = chosen.generator if chosen is not None else None
        if running is not None and _runs_inside(running, selection.frame):
            continue  # its consumer's block, opened while the generator was suspended
        chosen = selection
    return chosen.name if chosen is not None else None


def _runs_inside(generator: FrameType, caller: FrameType | None) -> bool:
    """Whether ``generator`` runs now, called (directly or not) by ``caller``'s code."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None and frame is not generator:
        if frame is caller:
            return False
        frame = frame.f_back
    while frame is not None:
        if frame is caller:
            return True
        frame = frame.f_back
    return False


class use_tenant:
    """Run the block (or each call of the decorated function) as tenant ``name``.

    Nested blocks use the innermost tenant; ``use_tenant(None)`` selects no tenant.
    """

    def __init__(self, name: str | None) -> None:
        self.name = check_tenant_name(name) if name is not None else None
        self._checked = True
        self._open: list[_Selection] = []  # this object's blocks not exited yet, any context
        self._lock = threading.Lock()

    @classmethod
    def unchecked(cls, name: str) -> use_tenant:
        """A block selecting ``name`` as it is, invalid or not (a Celery header): the router
        refuses it at the first query of a tenant app, which fails that task."""
        selection = cls(None)
        selection.name = name
        selection._checked = False
        return selection

    def __enter__(self) -> str | None:
        return self._enter(sys._getframe(1))

    def __exit__(self, *exc: object) -> None:
        self._exit(sys._getframe(1))

    async def __aenter__(self) -> str | None:
        return self._enter(sys._getframe(1))

    async def __aexit__(self, *exc: object) -> None:
        self._exit(sys._getframe(1))

    def _enter(self, frame: FrameType | None) -> str | None:
        registry = _registry() if self.name is not None and self._checked else None
        if registry is not None:  # not closed for max_open while selected here
            registry.use(self.name)
        below = tuple(s for s in _selections.get() if s.open)
        selection = _Selection(self.name, frame, registry, below)
        with self._lock:
            self._open.append(selection)
        _selections.set((*below, selection))
        return self.name

    def _exit(self, frame: FrameType | None) -> None:
        selections = _selections.get()
        with self._lock:
            selection = self._block_ending(frame, selections)
            if selection is None:
                return  # exited more often than entered: nothing of it is selected
            self._open.remove(selection)
        selection.open = False  # for every context holding it (entered in another one)
        selection.frame = selection.generator = None
        _selections.set(tuple(s for s in selections if s.open))
        if selection.registry is not None:
            selection.registry.unuse(self.name)

    def _block_ending(
        self, frame: FrameType | None, selections: tuple[_Selection, ...]
    ) -> _Selection | None:
        """The block an exit from ``frame`` ends: the one ``frame`` entered (a ``with``
        statement), else this object's innermost one in this context, else its latest."""
        latest_first = self._open[::-1]
        for selection in latest_first:
            if selection.frame is frame:
                return selection
        for selection in latest_first:
            if any(selection is s for s in selections):
                return selection
        return latest_first[0] if latest_first else None

    def __call__(self, function: F) -> F:
        name = self.name
        if inspect.isgeneratorfunction(function) or inspect.isasyncgenfunction(function):
            return _generator_as(name, function)
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with use_tenant(name):
                    return await function(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with use_tenant(name):
                return function(*args, **kwargs)

        return run  # type: ignore[return-value]


def keeping_tenant(function: Callable[[], Any]) -> Callable[[], Any]:
    """``function`` to be called later as the tenant selected now, or with none: an
    ``on_commit`` callback (``django_cfg.patches``, patch 9) runs as the tenant that registered
    it, even when the transaction commits after that tenant's block ended."""
    name = current_tenant()
    selection = use_tenant(None) if name is None else use_tenant.unchecked(name)

    @functools.wraps(function)
    def run() -> Any:
        with selection:
            return function()

    return run


def _generator_as(name: str | None, function: F) -> F:
    """``function``, a generator function, whose generators run as tenant ``name`` (while
    they run: their consumer keeps its own tenant between two items)."""
    if inspect.isasyncgenfunction(function):

        @functools.wraps(function)
        async def run_async_generator(*args: Any, **kwargs: Any) -> Any:
            async with use_tenant(name), contextlib.aclosing(function(*args, **kwargs)) as items:
                async for item in items:
                    yield item

        return run_async_generator  # type: ignore[return-value]

    @functools.wraps(function)
    def run_generator(*args: Any, **kwargs: Any) -> Any:
        with use_tenant(name):
            return (yield from function(*args, **kwargs))

    return run_generator  # type: ignore[return-value]
