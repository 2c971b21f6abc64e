"""A task of Django's tasks framework (Django >= 6.0) writing a note in the current tenant."""

from django.tasks import task

from django_cfg import current_tenant
from tests.tenants.project.notes.models import Note


@task
def add_note(title: str) -> str | None:
    Note.objects.create(title=title)
    return current_tenant()
