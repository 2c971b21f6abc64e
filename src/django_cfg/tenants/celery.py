"""The tenant follows a Celery task from where it is queued to the worker that runs it.

    with use_tenant("acme"):
        send_invoice.delay(invoice_id)     # runs in acme on the worker

Queueing puts the current tenant in the message's ``django_cfg_tenant`` header
(``before_task_publish``); the worker runs the task inside ``use_tenant`` of that header
(``task_prerun`` / ``task_postrun``). A task queued with no tenant runs with none; a task whose
tenant is unknown to the worker fails with ``UnknownTenantError`` (``ValueError`` for a header
that is no tenant name) at its first query of a tenant app, never in another database. Tasks
run eagerly (``task.apply()``, ``task_always_eager``) keep the caller's tenant, unless given
a header of their own (``apply(headers={HEADER: name})``).

Connected by the ``django_cfg.tenants`` app when Celery is installed (``connect()``), as soon as
``celery.signals`` is imported (``runtime.after_import``): startup never imports Celery, and
importing this module does not either (``connect()`` does), so that the import that triggers
the connection is never this module's own.
"""

from __future__ import annotations

from typing import Any

from django_cfg.tenants.context import current_tenant, use_tenant

__all__ = ["HEADER", "connect", "disconnect"]

HEADER = "django_cfg_tenant"

_TOKEN = "django_cfg_tenant_token"
"""The attribute of a running task's request (one per execution: a task id can run twice at
once when a broker redelivers it) that keeps the use_tenant block entered for it."""


def _on_publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """Put the current tenant in the outgoing message's headers (none: no header)."""
    name = current_tenant()
    if headers is not None and name is not None and HEADER not in headers:
        headers[HEADER] = name


def _header(task: Any) -> str | None:
    request = task.request
    name = getattr(request, HEADER, None)
    if name is None:
        name = (getattr(request, "headers", None) or {}).get(HEADER)
    return name if name is None else str(name)


def _on_prerun(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    """Select the message's tenant (or none) for the task about to run on this worker."""
    if task is None or task_id is None:
        return
    name = _header(task)
    if name is None and task.request.is_eager:
        return  # run in the caller's thread with no header: the caller's tenant is selected
    # Not refused here (a signal handler's error would only be logged): the router checks
    # the tenant at the task's first query of a tenant app, which then fails the task.
    try:
        selection = use_tenant(name)
    except ValueError:  # no tenant name: set as it is, refused at the first tenant query
        selection = use_tenant.unchecked(str(name))
    selection.__enter__()  # as the block of use_tenant: not closed for max_open meanwhile
    setattr(task.request, _TOKEN, selection)


def _on_postrun(task: Any = None, **_: Any) -> None:
    selected = getattr(task.request, _TOKEN, None) if task is not None else None
    if selected is not None:
        setattr(task.request, _TOKEN, None)
        selected.__exit__()


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
