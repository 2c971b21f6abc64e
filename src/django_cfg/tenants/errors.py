"""What goes wrong when a query needs a tenant: none selected, or one that does not exist.

try:
    Note.objects.count()
except NoTenantError:          # no use_tenant(), no tenant middleware, no .using()
    ...
"""

__all__ = ["NoTenantError", "UnknownTenantError"]


class NoTenantError(RuntimeError):
    """A query of a tenant app ran with no tenant selected (it never falls back to default)."""


class UnknownTenantError(LookupError):
    """A tenant that is neither in ``TenantsConfig.names`` nor in the tenants table."""
