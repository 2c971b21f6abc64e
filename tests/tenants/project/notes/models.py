"""The tenant app: its tables live in every tenant's database; ``author`` is a user of the
shared ``default`` database (a ForeignKey across databases)."""

from django.conf import settings
from django.db import models


class Tag(models.Model):
    name = models.CharField(max_length=50)


class Note(models.Model):
    title = models.CharField(max_length=100)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="notes"
    )
    tag = models.ForeignKey(Tag, null=True, on_delete=models.SET_NULL)


class Task(models.Model):
    """A tenant row that a shared user's delete sets to NULL (tests/tenants/test_shared_delete)."""

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
