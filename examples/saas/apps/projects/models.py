"""A tenant's projects: the table lives in every tenant's database (TenantsConfig.apps);
owners are users on default, shared by all tenants."""

from django.conf import settings
from django.db import models


class Project(models.Model):
    name = models.CharField(max_length=200)
    # Cross-database: a tenant row naming a shared user (no database constraint); deleting
    # the user inside use_tenant(...) sets owner to NULL in that tenant's database.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="projects",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name
