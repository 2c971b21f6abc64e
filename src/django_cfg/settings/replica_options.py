"""DATABASE_REPLICA_OPTIONS: how replicas are probed, retried and how long a write pins reads.

    DATABASE_REPLICA_OPTIONS = {"probe_interval": 1.0, "retry_interval": 30.0, "pin_seconds": 5.0}

``DjangoConfig`` writes it from ``replica_probe_interval``, ``replica_retry_interval`` and
``read_your_writes_seconds``; the defaults below are the only place these numbers are written.
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["REPLICA_DEFAULTS", "ReplicaOptions"]


class ReplicaOptions(NamedTuple):
    """How often to probe lag, how long to wait before retrying, how long a write pins reads."""

    probe_interval: float = 1.0
    retry_interval: float = 30.0
    pin_seconds: float = 5.0
    connect_timeout: int = 2
    """Seconds a replica connection (or probe) may take before its reads go elsewhere."""

    @classmethod
    def from_settings(cls, settings: Any) -> ReplicaOptions:
        return cls(**(getattr(settings, "DATABASE_REPLICA_OPTIONS", None) or {}))


REPLICA_DEFAULTS = ReplicaOptions()
