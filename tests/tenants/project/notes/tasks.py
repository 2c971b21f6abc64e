"""Tasks of Django's tasks framework (Django >= 6.0): writing a note in the current tenant,
reading the notes (and which database served them).

Importable on Django 5.2 too (defining nothing there): Celery's ``app.autodiscover_tasks()``
imports every installed app's ``tasks`` module (tests/tenants/project/worker_app.py).
"""

import django

from django_cfg import current_tenant
from tests.tenants.project.notes.models import Note

if django.VERSION >= (6, 0):
    from django.tasks import task

    @task
    def add_note(title: str) -> str | None:
        Note.objects.create(title=title)
        return current_tenant()

    @task
    def read_notes() -> dict[str, object]:
        notes = Note.objects.all()
        return {"db": notes.db, "titles": sorted(notes.values_list("title", flat=True))}
