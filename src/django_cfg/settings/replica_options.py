"""DATABASE_REPLICA_OPTIONS: how replicas are probed, retried, how long a write pins reads, and
which apps always read their primary.

    DATABASE_REPLICA_OPTIONS = {"probe_interval": 1.0, "retry_interval": 30.0, "pin_seconds": 5.0,
                                "primary_reads": ["auth", "sessions"]}

``DjangoConfig`` writes it from ``replica_probe_interval``, ``replica_retry_interval``,
``read_your_writes_seconds`` and ``replica_primary_reads``; the defaults below are the only place
these values are written.
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
    primary_reads: tuple[str, ...] = ("auth", "sessions")
    """App labels (``"auth"``) and model labels (``"accounts.User"``) whose reads always go to
    their primary: a user created or a session written by another process is read at once,
    however far a replica lags. ``"auth"`` also covers ``AUTH_USER_MODEL`` wherever it lives."""

    @classmethod
    def from_settings(cls, settings: Any) -> ReplicaOptions:
        given = dict(getattr(settings, "DATABASE_REPLICA_OPTIONS", None) or {})
        reads = tuple(given.pop("primary_reads", cls._field_defaults["primary_reads"]))
        user_model = getattr(settings, "AUTH_USER_MODEL", "auth.User")
        if "auth" in reads and user_model not in reads:
            reads = (*reads, user_model)
        return cls(**given, primary_reads=reads)


REPLICA_DEFAULTS = ReplicaOptions()
