"""The ``django_cfg`` app's models: ``DeleteIntent`` (docs/cross-database-relations.md), and
``Database``, a proxy (no table) that puts the admin's "Databases" page in the admin index
(``django_cfg.admin.databases_page``, docs/admin.md).

A cross-database delete writes one ``DeleteIntent`` row per (database, model) of the objects it
deletes, on every database it changes, inside that database's transaction; the rows are removed
once every database has committed. A row that outlives its delete (a crash, a lost connection)
says which objects were being deleted, and ``manage.py repair_relations`` finishes that delete.
The table exists on every database that takes migrations (the router's ``allow_migrate``).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class DeleteIntent(models.Model):
    """``pks`` of ``model`` on ``database`` were being deleted by the delete ``token``."""

    id = models.BigAutoField(primary_key=True)
    token = models.CharField(max_length=32, db_index=True)
    database = models.CharField(max_length=100)
    model = models.CharField(max_length=200)  # "app_label.ModelName"
    pks = models.TextField()  # a JSON list
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "django_cfg"
        verbose_name = "unfinished cross-database delete"

    def __str__(self) -> str:
        return f"delete {self.token}: {self.model} on {self.database!r}"


class Database(DeleteIntent):
    """The admin's "Databases" page hangs off it (/admin/django_cfg/database/), shown to staff
    with its view permission (superusers). A proxy, so no table of its own and nothing for
    ``dumpdata`` (which skips proxies; an unmanaged model without a table would fail it)."""

    class Meta:
        app_label = "django_cfg"
        proxy = True
        default_permissions = ("view",)
        verbose_name = "database"
