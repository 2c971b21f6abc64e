"""A second tenant app, installed only with TENANT_TEST_SHARED_DELETE=1
(tests/tenants/test_shared_delete.py): more ForeignKeys from every tenant to the shared user."""

from django.conf import settings
from django.db import models


class Task(models.Model):
    """A tenant row that a shared user's delete sets to NULL."""

    title = models.CharField(max_length=100)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="tasks"
    )

    def __str__(self) -> str:
        return self.title


class Hold(models.Model):
    """A tenant row that forbids deleting its shared user (PROTECT)."""

    reason = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="holds"
    )

    def __str__(self) -> str:
        return self.reason
