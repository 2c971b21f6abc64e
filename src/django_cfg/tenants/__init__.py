"""A database per tenant (docs/tenants.md): the tenant of this context, its database, the
registry of tenants, the router in front of the package's router, the middleware."""
