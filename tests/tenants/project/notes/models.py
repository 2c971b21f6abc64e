"""The tenant app: its tables live in every tenant's database; ``author`` is a user of the
shared ``default`` database (a ForeignKey across databases)."""

import os

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
    if os.environ.get("TENANT_TEST_UNMIGRATED_FIELD"):  # a change without its migration
        size = models.IntegerField(default=0)
