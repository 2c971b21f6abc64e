"""The tenant of the running code: a contextvar, so threads, asyncio tasks and ASGI requests
each have their own.

    with use_tenant("acme"):              # or @use_tenant("acme") on a function, sync or async
        Post.objects.create(title="hi")   # acme's database

Selecting a tenant does not touch a database: the tenant is checked and its database opened
at the first query of a tenant app (``django_cfg.tenants.registry``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any, TypeVar

from django_cfg.settings.tenants import check_tenant_name

__all__ = ["NoTenantError", "UnknownTenantError", "current_tenant", "use_tenant"]

F = TypeVar("F", bound=Callable[..., Any])

_tenant: ContextVar[str | None] = ContextVar("django_cfg_tenant", default=None)


class NoTenantError(RuntimeError):
    """A query of a tenant app ran with no tenant selected (it never falls back to default)."""


class UnknownTenantError(LookupError):
    """A tenant that is neither in ``TenantsConfig.names`` nor in the tenants table."""


def _registry() -> Any:
    """The tenant registry, if Django is configured with tenants (else None)."""
    from django.conf import settings

    if not settings.configured:
        return None
    from django_cfg.tenants.registry import current_registry  # it imports this module

    return current_registry()


def current_tenant() -> str | None:
    """The name of the tenant this context uses, or None."""
    return _tenant.get()


class use_tenant:
    """Run the block (or each call of the decorated function) as tenant ``name``.

    Nested blocks use the innermost tenant; ``use_tenant(None)`` selects no tenant.
    """

    def __init__(self, name: str | None) -> None:
        self.name = check_tenant_name(name) if name is not None else None
        self._entered: list[tuple[Token[str | None], Any]] = []  # (token, registry in use)

    def __enter__(self) -> str | None:
        registry = _registry() if self.name is not None else None
        if registry is not None:  # not closed for max_open while selected here
            registry.use(self.name)
        self._entered.append((_tenant.set(self.name), registry))
        return self.name

    def __exit__(self, *exc: object) -> None:
        token, registry = self._entered.pop()
        _tenant.reset(token)
        if registry is not None:
            registry.unuse(self.name)

    async def __aenter__(self) -> str | None:
        return self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__()

    def __call__(self, function: F) -> F:
        name = self.name
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
