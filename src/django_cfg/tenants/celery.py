"""The tenant follows a Celery task from where it is queued to the worker that runs it.

    with use_tenant("acme"):
        send_invoice.delay(invoice_id)     # runs in acme on the worker

Queueing puts the current tenant in the message's ``django_cfg_tenant`` header; the worker
runs the task inside ``use_tenant`` of that header (``django_cfg.replicas.celery_header``). A
task queued with no tenant runs with none; a task whose tenant is unknown to the worker fails
with ``UnknownTenantError`` (``ValueError`` for a header that is no tenant name) at its first
query of a tenant app, never in another database. Tasks run eagerly (``task.apply()``,
``task_always_eager``) keep the caller's tenant, unless given a header of their own
(``apply(headers={HEADER: name})``).

Connected by the ``django_cfg.tenants`` app when Celery is installed, as soon as
``celery.signals`` is imported (``runtime.after_import``): startup never imports Celery.
"""

from __future__ import annotations

from django_cfg.replicas.celery_header import CeleryHeader
from django_cfg.tenants.context import current_tenant, use_tenant

__all__ = ["HEADER", "TENANT", "connect", "disconnect"]

HEADER = "django_cfg_tenant"


def _selecting(name: str | None) -> use_tenant:
    """The block a task runs in. Not refused here (a signal handler's error would only be
    logged): the router checks the tenant at the task's first query of a tenant app, which
    then fails the task."""
    try:
        return use_tenant(name)
    except ValueError:  # no tenant name: set as it is, refused at the first tenant query
        return use_tenant.unchecked(str(name))


TENANT = CeleryHeader(HEADER, current_tenant, _selecting)
connect = TENANT.connect
disconnect = TENANT.disconnect
