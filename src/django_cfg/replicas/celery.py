"""Read-your-writes follows a Celery task: a task queued after a write reads that write.

    invoice = Invoice.objects.create(...)      # this context is pinned to the primary
    send_invoice.delay(invoice.pk)             # the worker reads the invoice from the primary,
                                               # not from a replica that has not replayed it

Queueing puts this context's write markers in the message's ``django_cfg_pins`` header; the
worker runs the task with those markers and no others (``django_cfg.replicas.carried_pins``).
Tasks run eagerly (``apply()``, ``task_always_eager``) keep the caller's pins unless given a
header. Connected by the ``django_cfg`` app when Celery is installed, as soon as
``celery.signals`` is imported (``runtime.after_import``): startup never imports Celery.
"""

from __future__ import annotations

from django_cfg.replicas.carried_pins import PINS_KEY, carrying_pins, pins_to_carry
from django_cfg.replicas.celery_header import CeleryHeader

__all__ = ["HEADER", "PINS", "connect", "disconnect"]

HEADER = PINS_KEY

PINS = CeleryHeader(HEADER, pins_to_carry, carrying_pins)
connect = PINS.connect
disconnect = PINS.disconnect
