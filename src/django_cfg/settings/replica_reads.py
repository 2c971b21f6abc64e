"""How much of its primary's reads a replica takes, and how far behind it may fall: the three
fields a ``DatabaseConfig`` replica and ``TenantsConfig``'s tenant replicas both have.

    ReplicaReads(read_weight=0.5, max_lag_seconds=5).role()
    # {"read_weight": 0.5, "max_lag_seconds": 5}: its DATABASE_ROLES entry's share
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["ReplicaReads"]


class ReplicaReads(NamedTuple):
    read_weight: float = 1.0
    max_lag_seconds: float | None = None
    max_lag_bytes: int | None = None

    def given(self, prefix: str = "") -> list[str]:
        """The fields set away from their default, by name (``prefix`` + field)."""
        return [prefix + name for name, value in self._asdict().items() if value != _DEFAULT[name]]

    def role(self) -> dict[str, Any]:
        """The role keys of such a replica: its weight, and its lag bounds when set."""
        role: dict[str, Any] = {"read_weight": self.read_weight}
        role.update((name, value) for name, value in self._asdict().items() if value is not None)
        return role


_DEFAULT = ReplicaReads()._asdict()
