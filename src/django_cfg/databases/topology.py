"""Moved to ``django_cfg.state.topology``; this path (django-cfg 0.1) keeps working."""

from __future__ import annotations

from django_cfg.runtime.runtime import current_runtime
from django_cfg.state.topology import DatabaseRole, Topology

__all__ = ["DatabaseRole", "Topology", "get_topology"]


def get_topology() -> Topology:
    """The project's topology: ``current_runtime().topology`` (django-cfg 0.1's name)."""
    return current_runtime().topology
