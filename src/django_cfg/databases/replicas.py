"""Moved to ``django_cfg.replicas.monitor``; this path (django-cfg 0.1) keeps working."""

from django_cfg.replicas.monitor import (  # noqa: F401
    ReplicaMonitor,
    current_monitor,
    replica_state_changed,
)
