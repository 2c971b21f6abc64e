"""The tenant follows a task of Django's tasks framework (``django.tasks``, Django >= 6.0) from
where it is enqueued to where it runs.

    TASKS = {"default": {"BACKEND": "django_cfg.tenants.tasks.TenantImmediateBackend"}}

    @task
    def send_invoice(invoice_id): ...

    with use_tenant("acme"):
        send_invoice.enqueue(invoice_id)   # runs in acme, here or on a worker

A backend's tasks are ``TenantTask``: enqueueing one inside ``use_tenant`` stores the tenant
with the task, as the keyword argument ``django_cfg_tenant`` (``result.kwargs`` shows it), and
running it (``Task.call`` / ``acall``, what backends and their workers call) removes that
argument and runs the function inside ``use_tenant`` of it. A task enqueued with no tenant runs
with none; one whose tenant is unknown where it runs fails with ``UnknownTenantError`` at its
first query of a tenant app.

Any backend gets this by mixing in ``TenantTasks`` (its ``task_class``)::

    class TenantDatabaseBackend(TenantTasks, DatabaseBackend): ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.tasks import Task, TaskResult
from django.tasks.backends.dummy import DummyBackend
from django.tasks.backends.immediate import ImmediateBackend

from django_cfg.tenants.context import current_tenant, use_tenant

__all__ = [
    "TENANT_KWARG",
    "TenantDummyBackend",
    "TenantImmediateBackend",
    "TenantTask",
    "TenantTasks",
]

TENANT_KWARG = "django_cfg_tenant"


def _with_tenant(kwargs: dict[str, Any]) -> dict[str, Any]:
    name = current_tenant()
    if TENANT_KWARG in kwargs:
        raise TypeError(
            f"{TENANT_KWARG!r} is the keyword argument that carries the tenant of a TenantTask: "
            "select the tenant with use_tenant() around enqueue() instead of passing it."
        )
    return {**kwargs, TENANT_KWARG: name} if name is not None else kwargs


@dataclass(frozen=True, slots=True, kw_only=True)
class TenantTask(Task):  # type: ignore[type-arg]
    """A task that runs in the tenant it was enqueued in (or in none)."""

    def enqueue(self, *args: Any, **kwargs: Any) -> TaskResult[Any, Any]:
        return self.get_backend().enqueue(self, list(args), _with_tenant(kwargs))

    async def aenqueue(self, *args: Any, **kwargs: Any) -> TaskResult[Any, Any]:
        return await self.get_backend().aenqueue(self, list(args), _with_tenant(kwargs))

    def call(self, *args: Any, **kwargs: Any) -> Any:
        with use_tenant(kwargs.pop(TENANT_KWARG, None)):
            return Task.call(self, *args, **kwargs)

    async def acall(self, *args: Any, **kwargs: Any) -> Any:
        async with use_tenant(kwargs.pop(TENANT_KWARG, None)):
            return await Task.acall(self, *args, **kwargs)


class TenantTasks:
    """Mixin for a task backend: its tasks are ``TenantTask``."""

    task_class: type[Task[..., Any]] = TenantTask


class TenantImmediateBackend(TenantTasks, ImmediateBackend):
    """Django's ``ImmediateBackend`` (runs the task at once), tenant-aware."""


class TenantDummyBackend(TenantTasks, DummyBackend):
    """Django's ``DummyBackend`` (stores tasks, runs none), tenant-aware."""
