"""The Celery signal handlers of django_cfg.tenants.celery on one worker's threads pool: each
task's tenant is set and restored in the thread that runs it, even when a broker redelivers a
task (same task id) while the first delivery still runs on another thread."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

from django_cfg.tenants import celery as tenant_celery
from django_cfg.tenants.context import current_tenant


def fake_task(tenant: str) -> Any:
    """A task as the handlers see it: its request, with the message's tenant header."""
    request = SimpleNamespace(is_eager=False, headers={tenant_celery.HEADER: tenant})
    return SimpleNamespace(request=request)


def test_a_redelivered_task_on_two_threads_restores_each_threads_tenant() -> None:
    steps = [threading.Event() for _ in range(3)]
    seen: dict[str, Any] = {}

    def first() -> None:  # prerun, (second's prerun), postrun
        task = fake_task("acme")
        tenant_celery.TENANT.on_prerun(task_id="same-id", task=task)
        seen["first during"] = current_tenant()
        steps[0].set()
        steps[1].wait(5)
        try:
            tenant_celery.TENANT.on_postrun(task_id="same-id", task=task)
        except Exception as error:  # Celery would log it and go on
            seen["first error"] = type(error).__name__
        seen["first after"] = current_tenant()
        steps[2].set()

    def second() -> None:  # prerun after first's prerun, postrun after first's postrun
        task = fake_task("beta")
        steps[0].wait(5)
        tenant_celery.TENANT.on_prerun(task_id="same-id", task=task)
        seen["second during"] = current_tenant()
        steps[1].set()
        steps[2].wait(5)
        tenant_celery.TENANT.on_postrun(task_id="same-id", task=task)
        seen["second after"] = current_tenant()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == {
        "first during": "acme",
        "first after": None,
        "second during": "beta",
        "second after": None,
    }
