"""Moved to ``django_cfg.routing.topology``; this path (django-cfg 0.1) keeps working."""

from django_cfg.routing.topology import (  # noqa: F401
    DatabaseRole,
    Topology,
    get_topology,
)
