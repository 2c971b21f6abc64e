"""Replication as the servers tell it, for ``db_status``: each status compared with its
primary's (lag in bytes, a replica that was promoted, a primary that is a standby) and the
servers of a multi-host URL with each other.

    statuses = probe_all(targets, topology)      # calls compare_roles(statuses, topology)
    statuses[1].problems
    # ['the replica is now a primary (promoted: pg_is_in_recovery() is false); default has no
    #   standby left']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django_cfg.state.topology import Topology

__all__ = ["LAGGING_SECONDS", "ServerStatus", "compare_roles"]

LAGGING_SECONDS = 30.0
"""A replica without ``max_lag_seconds`` / ``max_lag_bytes`` of its own counts as lagging (a
degraded ``db_status``) beyond this many seconds of replay lag."""


@dataclass
class ServerStatus:
    """One server of a multi-host URL, asked on its own."""

    address: str
    reachable: bool = False
    server_role: str | None = None
    """"primary" or "standby", as ``pg_is_in_recovery()`` says."""
    wal_position: int | None = None
    replay_paused: bool | None = None
    lag_seconds: float | None = None
    lag_bytes: int | None = None
    error: str | None = None


def compare_roles(statuses: Sequence[Any], topology: Topology) -> None:
    """Fill ``lag_bytes`` / ``lag_error`` / ``problems`` / ``error`` of ``statuses``
    (``DatabaseStatus`` objects) from what each server said it is."""
    by_alias = {status.alias: status for status in statuses}
    for status in statuses:
        role = topology.roles.get(status.alias)
        if status.servers:
            _compare_servers(status)
        if role is not None and role.replica_of is not None:
            _compare_replica(status, by_alias.get(role.replica_of), role, statuses, topology)
        elif status.server_role == "standby" and (status.is_primary or status.role == "tenant"):
            status.error = (
                "the server is a standby (pg_is_in_recovery() is true): writes fail. Point "
                "the alias at the new primary, or list every node in a multi-host URL with "
                "?target_session_attrs=read-write"
            )


def _compare_replica(
    status: Any, primary: Any, role: Any, statuses: Sequence[Any], topology: Topology
) -> None:
    if status.server_role == "primary":
        standbys_left = [
            other.alias
            for other in statuses
            if other is not status
            and getattr(topology.roles.get(other.alias), "replica_of", None) == role.replica_of
            and other.server_role == "standby"
        ]
        status.problems.append(
            "the replica is now a primary (promoted: pg_is_in_recovery() is false)"
            + ("" if standbys_left else f"; {role.replica_of} has no standby left")
        )
        return
    if status.server_role != "standby":
        return  # unreachable (its error says why), or not PostgreSQL
    _measure_lag(status, primary, role.replica_of)
    if status.replay_paused:
        status.problems.append(
            "replay is paused (pg_wal_replay_resume() on the replica resumes it)"
        )
    lagging = _lagging(status, role)
    if lagging:
        status.problems.append(lagging)


def _measure_lag(status: Any, primary: Any, primary_alias: str) -> None:
    if primary is None or primary.wal_position is None or primary.server_role != "primary":
        why = "not probed" if primary is None else (primary.error or "it is not a primary")
        status.lag_error = f"primary {primary_alias!r}: {why}"
        return
    if status.wal_position is not None:
        status.lag_bytes = max(0, primary.wal_position - status.wal_position)


def _lagging(status: Any, role: Any) -> str | None:
    """Why the replica counts as lagging, or None."""
    if role.max_lag_bytes is not None and (status.lag_bytes or 0) > role.max_lag_bytes:
        return f"lagging: {status.lag_bytes} bytes behind (max_lag_bytes {role.max_lag_bytes})"
    bound = role.max_lag_seconds
    if bound is None and role.max_lag_bytes is None:
        bound = LAGGING_SECONDS
    if bound is not None and (status.lag_seconds or 0) > bound:
        return f"lagging: {status.lag_seconds:.1f} s behind (bound {bound:g} s)"
    return None


def _compare_servers(status: Any) -> None:
    """The nodes of a multi-host URL: lag of each standby, and what is missing."""
    primaries = [s for s in status.servers if s.server_role == "primary"]
    if len(primaries) > 1:
        status.problems.append(
            f"{len(primaries)} servers say they are a primary: "
            + ", ".join(s.address for s in primaries)
        )
    for server in status.servers:
        if not server.reachable:
            status.problems.append(f"server {server.address} is unreachable")
        elif server.server_role == "standby" and len(primaries) == 1:
            written, replayed = primaries[0].wal_position, server.wal_position
            if written is not None and replayed is not None:
                server.lag_bytes = max(0, written - replayed)
    if primaries and not any(s.server_role == "standby" for s in status.servers):
        status.problems.append("no standby left: only " + primaries[0].address + " answers")
