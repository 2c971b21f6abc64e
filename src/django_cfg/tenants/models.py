"""``Tenant``: the tenants of a project whose ``TenantsConfig`` lists no fixed ``names``."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Tenant(models.Model):
    """A tenant: its database is the URL template's, or ``url`` when set (a tenant placed on
    another server); its replicas are ``replica_urls`` when set, else the replica templates'
    (for a tenant on the template's server only). Maintained by ``manage.py create_tenant`` /
    ``drop_tenant``; lives on ``default``."""

    id = models.BigAutoField(primary_key=True)
    name = models.CharField(max_length=63, unique=True)
    url = models.TextField(blank=True, default="")  # a database URL: holds a secret if set
    replica_urls = models.JSONField(blank=True, default=list)  # database URLs, as url
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "django_cfg_tenants"
        db_table = "django_cfg_tenant"
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name
