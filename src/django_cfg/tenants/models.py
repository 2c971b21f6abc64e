"""``Tenant``: the tenants of a project whose ``TenantsConfig`` lists no fixed ``names``."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

MOVING = "moving"
"""``Tenant.state`` while ``move_tenant`` copies the tenant: its database refuses writes."""
CREATING = "creating"
"""``Tenant.state`` from ``create_tenant``'s claim of the name until it has taken the database
(created it, or found it empty, or adopted it): not routable (``tenants.lifecycle``)."""
MIGRATING = "migrating"
"""``Tenant.state`` from just before ``create_tenant`` makes the tenant's database until it is
migrated: not routable; a resumed ``create_tenant`` continues on it, or, where a killed
migration can leave half its DDL committed (MariaDB), makes it again (it holds nothing else)."""
TAKING = "taking"
"""``Tenant.state`` once a database that existed is the tenant's (found empty, or adopted with
its tables), until it is migrated: not routable; a resumed ``create_tenant`` continues on it."""
DROPPING = "dropping"
"""``Tenant.state`` while ``drop_tenant --drop-database`` drops the tenant's database: not
routable; ``drop_tenant`` again finishes it, ``create_tenant`` refuses the name until then. Not
``CREATING``: a claim's database is not the tenant's, and is never dropped (issue 23)."""
UNROUTABLE = frozenset({CREATING, MIGRATING, TAKING, DROPPING})
"""The states of a tenant that the registry treats as not existing (requests get a 404)."""


class Tenant(models.Model):
    """A tenant: its database is the URL template's, or ``url`` when set (a tenant placed on
    another server); its replicas are ``replica_urls`` when set, else the replica templates'
    (for a tenant on the template's server only). Maintained by ``manage.py create_tenant`` /
    ``drop_tenant`` / ``move_tenant``; lives on ``default``.

    ``domains`` are the tenant's own hosts (``create_tenant --domain``, the admin), which the
    middleware resolves before the subdomain rule (``tenants.domains``).

    ``state`` is "" (ready), ``MOVING``, ``CREATING`` / ``MIGRATING`` / ``TAKING`` while it is
    created, or ``DROPPING`` while its database is dropped.
    ``url`` and ``replica_urls`` never hold a password (``TenantsConfig.passwords`` or the
    template's supply it). ``version`` grows at each change of ``url`` or ``state``: a process
    that opened the tenant re-reads the row every ``TenantsConfig.recheck_seconds`` and reopens
    its database when the version changed.
    """

    id = models.BigAutoField(primary_key=True)
    name = models.CharField(max_length=63, unique=True)
    url = models.TextField(blank=True, default="")  # a database URL without its password
    replica_urls = models.JSONField(blank=True, default=list)  # database URLs, as url
    domains = models.JSONField(blank=True, default=list, db_default=[])  # hosts: ["acme.com"]
    state = models.CharField(max_length=16, blank=True, default="", db_default="")  # "" or above
    version = models.PositiveBigIntegerField(default=0, db_default=0)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "django_cfg_tenants"
        db_table = "django_cfg_tenant"
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name
