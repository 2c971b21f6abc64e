"""The tenant project's Celery app as a user's ``proj/celery.py`` writes it, for a worker in a
process of its own on a real Redis broker:

    TENANT_TEST_BROKER=redis://127.0.0.1:6379/7 TENANT_TEST_QUEUE=q1 \\
        python -m celery -A tests.tenants.project.worker_app worker -P prefork -c 2 -Q q1

``app.autodiscover_tasks()`` imports every installed app's ``tasks`` module, the package's
``django_cfg.tenants.tasks`` included (it used to kill the worker on Django 5.2).
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.tenants.project.settings")
django.setup()

from celery import Celery  # noqa: E402

from django_cfg import current_tenant  # noqa: E402
from tests.tenants.project.notes.models import Note  # noqa: E402

app = Celery("tenant_worker", broker=os.environ["TENANT_TEST_BROKER"])
app.conf.update(
    result_backend=os.environ["TENANT_TEST_BROKER"],
    task_default_queue=os.environ["TENANT_TEST_QUEUE"],
    result_expires=600,
    broker_connection_retry_on_startup=True,
)
app.autodiscover_tasks()


@app.task
def read_notes() -> dict[str, object]:
    """What this task reads of the current tenant's notes, and from which database."""
    notes = list(Note.objects.all())
    return {
        "tenant": current_tenant(),
        "titles": sorted(note.title for note in notes),
        "db": sorted({str(note._state.db) for note in notes}),
        "pid": os.getpid(),
    }
