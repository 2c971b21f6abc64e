"""Each tenant's projects, in that tenant's own database (installed in tenant mode only)."""
