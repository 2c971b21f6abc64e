"""A context that travels with a Celery task in one message header, from queueing to the worker.

    PINS = CeleryHeader("django_cfg_pins", pins_to_carry, carrying_pins)
    PINS.connect()    # queueing writes pins_to_carry() in the header; the worker runs the
                      # task inside carrying_pins(<the header>) and leaves it after

``before_task_publish`` puts ``to_carry()`` in the outgoing message's headers (None: no
header); ``task_prerun`` enters ``enter(header)`` for the task about to run, ``task_postrun``
leaves it. A task run eagerly (``apply()``, ``task_always_eager``) with no header of its own
keeps the caller's context. Read-your-writes pins (``django_cfg.replicas.celery``) and the
tenant (``django_cfg.tenants.celery``) each use one. Importing this module does not import Celery
(``connect()`` does): the apps connect once ``celery.signals`` is imported
(``runtime.after_import``), so startup never imports Celery, and the import that triggers the
connection is never this module's own.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

__all__ = ["CeleryHeader"]


class CeleryHeader:
    """Carry ``to_carry()`` in message header ``name``; run the task inside ``enter(value)``."""

    def __init__(
        self,
        name: str,
        to_carry: Callable[[], str | None],
        enter: Callable[[str | None], AbstractContextManager[Any]],
    ) -> None:
        self.name = name
        self.to_carry = to_carry
        self.enter = enter
        # One per execution (a task id can run twice at once when a broker redelivers it):
        # the attribute of the running task's request that keeps the block entered for it.
        self.token = f"{name}_token"

    def on_publish(self, headers: dict[str, Any] | None = None, **_: Any) -> None:
        value = self.to_carry()
        if headers is not None and value is not None and self.name not in headers:
            headers[self.name] = value

    def header(self, request: Any) -> str | None:
        """The header of the message ``request`` runs (an attribute, or in ``headers``)."""
        value = getattr(request, self.name, None)
        if value is None:
            value = (getattr(request, "headers", None) or {}).get(self.name)
        return value if value is None else str(value)

    def on_prerun(self, task_id: str | None = None, task: Any = None, **_: Any) -> None:
        if task is None or task_id is None:
            return
        value = self.header(task.request)
        if value is None and task.request.is_eager:
            return  # run in the caller's thread with no header: the caller's context applies
        block = self.enter(value)
        block.__enter__()
        setattr(task.request, self.token, block)

    def on_postrun(self, task: Any = None, **_: Any) -> None:
        block = getattr(task.request, self.token, None) if task is not None else None
        if block is not None:
            setattr(task.request, self.token, None)
            block.__exit__(None, None, None)

    def connect(self) -> None:
        """Connect the three Celery signals (idempotent)."""
        from celery import signals  # type: ignore[import-untyped]

        signals.before_task_publish.connect(self.on_publish, weak=False, dispatch_uid=self.name)
        signals.task_prerun.connect(self.on_prerun, weak=False, dispatch_uid=self.name)
        signals.task_postrun.connect(self.on_postrun, weak=False, dispatch_uid=self.name)

    def disconnect(self) -> None:
        """Undo ``connect()``."""
        from celery import signals

        signals.before_task_publish.disconnect(self.on_publish, dispatch_uid=self.name)
        signals.task_prerun.disconnect(self.on_prerun, dispatch_uid=self.name)
        signals.task_postrun.disconnect(self.on_postrun, dispatch_uid=self.name)
