"""Moved to ``django_cfg.state.replica_monitor``; this path (django-cfg 0.1) keeps working."""

from __future__ import annotations

from django_cfg.runtime.runtime import current_runtime
from django_cfg.state.replica_monitor import ReplicaMonitor, replica_state_changed

__all__ = ["ReplicaMonitor", "current_monitor", "replica_state_changed"]


def current_monitor() -> ReplicaMonitor | None:
    """The runtime's replica monitor: ``current_runtime().monitor`` (django-cfg 0.1's name)."""
    return current_runtime().monitor
