"""Read-your-writes follows a Celery task: a task queued after a write reads that write.

    invoice = Invoice.objects.create(...)      # this context is pinned to the primary
    send_invoice.delay(invoice.pk)             # the worker reads the invoice from the primary,
                                               # not from a replica that has not replayed it

Queueing puts this context's write markers in the message's ``django_cfg_pins`` header
(``before_task_publish``); the worker runs the task with those markers and no others
(``task_prerun`` / ``task_postrun``, ``django_cfg.replicas.carried_pins``). Tasks run eagerly
(``apply()``, ``task_always_eager``) keep the caller's pins unless given a header.

Connected by the ``django_cfg`` app when Celery is installed (``connect()``), as soon as
``celery.signals`` is imported (``runtime.after_import``): startup never imports Celery, and
importing this module does not either (``connect()`` does), so that the import that triggers
the connection is never this module's own.
"""

from __future__ import annotations

from typing import Any

from django_cfg.replicas.carried_pins import PINS_KEY, carrying_pins, pins_to_carry

__all__ = ["HEADER", "connect", "disconnect"]

HEADER = PINS_KEY

_TOKEN = "django_cfg_pins_token"
"""The attribute of a running task's request that keeps the pins block entered for it."""


def _on_publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """Put this context's write markers in the outgoing message's headers (none: no header)."""
    text = pins_to_carry()
    if headers is not None and text is not None and HEADER not in headers:
        headers[HEADER] = text


def _header(request: Any) -> object:
    text = getattr(request, HEADER, None)
    if text is None:
        text = (getattr(request, "headers", None) or {}).get(HEADER)
    return text


def _on_prerun(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    """Give the task about to run the pins of its message (none: no pins)."""
    if task is None or task_id is None:
        return
    text = _header(task.request)
    if text is None and task.request.is_eager:
        return  # run in the caller's thread with no header: the caller's pins apply
    block = carrying_pins(text)
    block.__enter__()
    setattr(task.request, _TOKEN, block)


def _on_postrun(task: Any = None, **_: Any) -> None:
    block = getattr(task.request, _TOKEN, None) if task is not None else None
    if block is not None:
        setattr(task.request, _TOKEN, None)
        block.__exit__(None, None, None)


def connect() -> None:
    """Connect the three Celery signals (idempotent)."""
    from celery import signals  # type: ignore[import-untyped]

    signals.before_task_publish.connect(_on_publish, weak=False, dispatch_uid=HEADER)
    signals.task_prerun.connect(_on_prerun, weak=False, dispatch_uid=HEADER)
    signals.task_postrun.connect(_on_postrun, weak=False, dispatch_uid=HEADER)


def disconnect() -> None:
    """Undo ``connect()``."""
    from celery import signals

    signals.before_task_publish.disconnect(_on_publish, dispatch_uid=HEADER)
    signals.task_prerun.disconnect(_on_prerun, dispatch_uid=HEADER)
    signals.task_postrun.disconnect(_on_postrun, dispatch_uid=HEADER)
