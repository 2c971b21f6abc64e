"""The tenant and read-your-writes follow a task of Django's tasks framework (``django.tasks``,
Django >= 6.0) from where it is enqueued to where it runs.

    TASKS = {"default": {"BACKEND": "django_cfg.tenants.tasks.TenantImmediateBackend"}}

    @task
    def send_invoice(invoice_id): ...

    with use_tenant("acme"):
        send_invoice.enqueue(invoice_id)   # runs in acme, here or on a worker

A backend's tasks are ``TenantTask``: enqueueing one inside ``use_tenant`` stores the tenant
with the task, as the keyword argument ``django_cfg_tenant`` (``result.kwargs`` shows it), and
this context's read-your-writes markers as ``django_cfg_pins`` (after a write to a primary with
replicas; ``django_cfg.replicas.carried_pins``). Running it (``Task.call`` / ``acall``, what
backends and their workers call) removes both arguments and runs the function inside
``use_tenant`` of the tenant, with those pins. A task enqueued with no tenant runs with none;
one whose tenant is unknown where it runs fails with ``UnknownTenantError`` at its first query
of a tenant app. Projects without tenants get the pins alone.

Any backend gets this by mixing in ``TenantTasks`` (its ``task_class``)::

    class TenantDatabaseBackend(TenantTasks, DatabaseBackend): ...

On Django 5.2 (no ``django.tasks``) this module still imports, so Celery's
``app.autodiscover_tasks()`` (which imports every installed app's ``tasks`` module) works; using
one of its classes raises ``ImportError`` saying so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django_cfg.replicas.carried_pins import PINS_KEY, carrying_pins, pins_to_carry
from django_cfg.tenants.context import current_tenant, use_tenant

try:
    from django.tasks import Task, TaskResult
    from django.tasks.backends.dummy import DummyBackend
    from django.tasks.backends.immediate import ImmediateBackend
except ImportError:  # Django 5.2: no tasks framework (module-level __getattr__ below explains)
    TASKS_FRAMEWORK = False
else:
    TASKS_FRAMEWORK = True

__all__ = [
    "PINS_KWARG",
    "TENANT_KWARG",
    "TenantDummyBackend",
    "TenantImmediateBackend",
    "TenantTask",
    "TenantTasks",
]

TENANT_KWARG = "django_cfg_tenant"
PINS_KWARG = PINS_KEY
_CLASSES = ("TenantDummyBackend", "TenantImmediateBackend", "TenantTask", "TenantTasks")


def __getattr__(name: str) -> object:
    """The classes of this module on Django 5.2: an ImportError that says why."""
    if name in _CLASSES:
        import django

        raise ImportError(
            f"django_cfg.tenants.tasks.{name} needs Django's tasks framework (django.tasks, "
            f"Django 6.0 and later); this is Django {django.get_version()}. Upgrade Django, or "
            "run background work with Celery (django_cfg.tenants.celery carries the tenant)."
        )
    raise AttributeError(f"module 'django_cfg.tenants.tasks' has no attribute {name!r}")


def _with_context(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with this context's tenant and read-your-writes markers added."""
    for reserved, what in ((TENANT_KWARG, "tenant"), (PINS_KWARG, "read-your-writes markers")):
        if reserved in kwargs:
            raise TypeError(
                f"{reserved!r} is the keyword argument that carries the {what} of a TenantTask: "
                "enqueue() sets it from this context (select the tenant with use_tenant() "
                "around enqueue()); do not pass it."
            )
    name, pins = current_tenant(), pins_to_carry()
    if name is not None:
        kwargs = {**kwargs, TENANT_KWARG: name}
    if pins is not None:
        kwargs = {**kwargs, PINS_KWARG: pins}
    return kwargs


if TASKS_FRAMEWORK:

    @dataclass(frozen=True, slots=True, kw_only=True)
    class TenantTask(Task):  # type: ignore[type-arg]
        """A task that runs in the tenant it was enqueued in (or in none), with the
        read-your-writes markers of the code that enqueued it."""

        def enqueue(self, *args: Any, **kwargs: Any) -> TaskResult[Any, Any]:
            return self.get_backend().enqueue(self, list(args), _with_context(kwargs))

        async def aenqueue(self, *args: Any, **kwargs: Any) -> TaskResult[Any, Any]:
            return await self.get_backend().aenqueue(self, list(args), _with_context(kwargs))

        def call(self, *args: Any, **kwargs: Any) -> Any:
            pins = kwargs.pop(PINS_KWARG, None)
            with use_tenant(kwargs.pop(TENANT_KWARG, None)), carrying_pins(pins):
                return Task.call(self, *args, **kwargs)

        async def acall(self, *args: Any, **kwargs: Any) -> Any:
            pins = kwargs.pop(PINS_KWARG, None)
            async with use_tenant(kwargs.pop(TENANT_KWARG, None)), carrying_pins(pins):
                return await Task.acall(self, *args, **kwargs)

    class TenantTasks:
        """Mixin for a task backend: its tasks are ``TenantTask``."""

        task_class: type[Task[..., Any]] = TenantTask

    class TenantImmediateBackend(TenantTasks, ImmediateBackend):
        """Django's ``ImmediateBackend`` (runs the task at once), tenant-aware."""

    class TenantDummyBackend(TenantTasks, DummyBackend):
        """Django's ``DummyBackend`` (stores tasks, runs none), tenant-aware."""
