"""A Celery app of the tenant project: an in-memory broker and result store, so a worker started
in the scenario's process (celery.contrib.testing.worker) receives real messages."""

from celery import Celery

from django_cfg import current_tenant
from tests.tenants.project.notes.models import Note

app = Celery("tenant_tests", broker="memory://", backend="cache+memory://", set_as_current=True)
app.conf.task_always_eager = False


@app.task
def add_note(title: str) -> str | None:
    Note.objects.create(title=title)
    return current_tenant()
