"""``Tenant``: the tenants of a project whose ``TenantsConfig`` lists no fixed ``names``."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

MOVING = "moving"
"""``Tenant.state`` while ``move_tenant`` copies the tenant: its database refuses writes."""


class Tenant(models.Model):
    """A tenant: its database is the URL template's, or ``url`` when set (a tenant placed on
    another server); its replicas are ``replica_urls`` when set, else the replica templates'
    (for a tenant on the template's server only). Maintained by ``manage.py create_tenant`` /
    ``drop_tenant`` / ``move_tenant``; lives on ``default``.

    ``url`` and ``replica_urls`` never hold a password (``TenantsConfig.passwords`` or the
    template's supply it). ``version`` grows at each change of ``url`` or ``state``: a process
    that opened the tenant re-reads the row every ``TenantsConfig.recheck_seconds`` and reopens
    its database when the version changed.
    """

    id = models.BigAutoField(primary_key=True)
    name = models.CharField(max_length=63, unique=True)
    url = models.TextField(blank=True, default="")  # a database URL without its password
    replica_urls = models.JSONField(blank=True, default=list)  # database URLs, as url
    state = models.CharField(max_length=16, blank=True, default="", db_default="")  # "" or MOVING
    version = models.PositiveBigIntegerField(default=0, db_default=0)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "django_cfg_tenants"
        db_table = "django_cfg_tenant"
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name
