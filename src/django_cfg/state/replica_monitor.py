"""Which replica serves a read: weights, a circuit breaker per replica, lag from WAL positions.

    databases["replica"] = DatabaseConfig.from_url(url, replica_of="default", read_weight=0.8)
    # 80% of default's reads go to the replica, 20% to default (the specification's split)

``read_weight`` is a replica's share of its primary's reads. When the weights of a primary's
replicas add up to less than 1 the primary serves the rest; at 1 or more (the default, 1.0 for
one replica) every read goes to replicas, in proportion to their weights.

A replica that cannot be reached is out of rotation until its retry time; its share goes to the
other replicas and the primary. Then one connection at a time tries it again while the others
stay where they are. A refused connection costs nothing, so it is retried every second; an
attempt that timed out doubles the wait, up to ``retry_interval``. On PostgreSQL, the
replay position of each replica is compared with its primary's WAL position at most once per
``probe_interval`` (never per query); a replica beyond ``max_lag_seconds`` / ``max_lag_bytes``
is skipped until it catches up.

Primaries have a breaker too. A connection to a primary that fails (a read the weights sent
there, a write, a WAL position, a probe) opens it: while it is open the primary's share of reads
goes to its healthy replicas, whatever their ``read_weight`` (0 included: a replica kept out of
rotation still serves when nothing else can), their lag bounds and read-your-writes markers (the
replicas hold all there is to read while the primary is away). Writes still try the primary and
fail within its connect timeout. Once the retry time has come, a background thread tries the
primary (the same backoff as replicas); reads stay on the replicas until it answers, so no read
waits for a dead primary. docs/deployment.md ("During a primary failover") has the numbers.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from typing import Any

from django.db import OperationalError, connections
from django.dispatch import Signal

from django_cfg.settings.replica_options import ReplicaOptions
from django_cfg.state.connection_failures import is_connection_failure
from django_cfg.state.own_connection import own_connection
from django_cfg.state.topology import DatabaseRole, Topology
from django_cfg.state.value_record import ValueRecord
from django_cfg.state.wal import (
    format_lsn,
    parse_lsn,
    replayed_position,
    written_position,
)

__all__ = [
    "ReplicaMonitor",
    "ReplicaOptions",
    "format_lsn",
    "parse_lsn",
    "replica_state_changed",
]

logger = logging.getLogger("django_cfg.replicas")

replica_state_changed = Signal()
"""Sent with ``alias``, ``available`` (bool) and ``error`` when a replica leaves or rejoins."""

FIRST_RETRY_SECONDS = 1.0
SLOW_FAILURE_SECONDS = 0.5
"""A failed attempt that took this long (a timeout, not a refusal) doubles the next wait."""

COUNTERS = (
    "primary:use_primary",  # reads of replicated data sent to the primary, and why
    "primary:atomic",
    "primary:read_your_writes",
    "primary:no_replica",
    "skip:unavailable",  # a replica passed over
    "skip:lag",
    "failover",  # a replica refused a connection or died mid-query
    "served_by_primary",
    "rerun_on_primary",
    "recovery_conflict",  # a replica read cancelled by a conflict with recovery (rerun above)
    "replica:primary_down",  # reads of the primary's share served by a replica: primary down
    "pin_dropped:primary_down",  # read-your-writes markers the unreachable primary could not place
    "primary_unreachable",  # a primary's breaker opened
)


# ValueRecords, not dataclasses: no exec() at startup (state/value_record.py, issue 23).


class ReplicaHealth(ValueRecord):
    """What this process knows about one replica (mutated under the monitor's lock)."""

    def __init__(self) -> None:
        self.failures = 0
        self.retry_at = 0.0
        self.wait = 0.0
        self.probing = False  # one connection is trying the replica again
        self.last_error: str | None = None
        self.replay_lsn: int | None = None
        self.replay_checked_at = 0.0
        self.lag_bytes: int | None = None
        self.lag_seconds: float | None = None

    def __repr__(self) -> str:
        return f"ReplicaHealth({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class _PrimaryWal(ValueRecord):
    def __init__(self) -> None:
        self.samples: deque[tuple[float, int]] = deque(maxlen=512)
        self.probed_at = 0.0


class _Flight(ValueRecord):
    """The one probe thread in flight: when it started, the server it waits for."""

    def __init__(self, done: threading.Event, started: float) -> None:
        self.done = done
        self.started = started
        self.alias: str | None = None
        self.reported = False


def _fly(flight: _Flight, work: Callable[[], None]) -> None:
    try:
        work()
    finally:
        flight.done.set()


class ReplicaMonitor:
    """Per process: replica choice, breakers, lag probes and counters, for one Topology."""

    def __init__(
        self,
        topology: Topology,
        options: ReplicaOptions | None = None,
        *,
        previous: ReplicaMonitor | None = None,
        kept: frozenset[str] = frozenset(),
    ) -> None:
        """``previous``: the monitor this one replaces (a database was added or removed): the
        breakers, lag samples and WAL samples of the aliases in ``kept`` (same server, same
        options) carry over, and so do the counters."""
        self.options = options or ReplicaOptions()
        self.replicas = replicas_by_primary(topology)
        self.health = {r.alias: ReplicaHealth() for rs in self.replicas.values() for r in rs}
        self.primary_health = {primary: ReplicaHealth() for primary in self.replicas}
        """The primaries' breakers (the same fields as a replica's)."""
        self._wal = {primary: _PrimaryWal() for primary in self.replicas}
        self._health_lock = threading.Lock()
        self.counts: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        if previous is not None:
            self._carry_over(previous, kept)
        self._primary_share = {
            primary: max(0.0, 1.0 - sum(r.read_weight for r in replicas))
            for primary, replicas in self.replicas.items()
        }
        self._bounded = {
            primary
            for primary, replicas in self.replicas.items()
            if any(r.max_lag_seconds is not None or r.max_lag_bytes is not None for r in replicas)
        }
        self.single_replicas: dict[str, tuple[str, ReplicaHealth]] = {
            primary: (replicas[0].alias, self.health[replicas[0].alias])
            for primary, replicas in self.replicas.items()
            if len(replicas) == 1
            and self._primary_share[primary] == 0
            and primary not in self._bounded
            and replicas[0].read_weight > 0
        }
        self._probe_lock = threading.Lock()  # one probing thread at a time; others use what we know
        self._probes: dict[str, Any] = {}
        self._flight: _Flight | None = None  # the probe thread in flight (_in_background)

    def _carry_over(self, previous: ReplicaMonitor, kept: frozenset[str]) -> None:
        """What ``previous`` knows of the aliases in ``kept``: their state objects themselves
        (threads still holding ``previous`` update them under the same lock)."""
        self._health_lock = previous._health_lock
        self.counts = previous.counts
        for mine, theirs in (
            (self.health, previous.health),
            (self.primary_health, previous.primary_health),
            (self._wal, previous._wal),
        ):
            for alias in kept & mine.keys() & theirs.keys():
                mine[alias] = theirs[alias]  # type: ignore[assignment]

    @property
    def counters(self) -> Counter[str]:
        """What happened so far in this process, e.g. ``Counter({'primary:atomic': 311})``."""
        return Counter({name: count for name, count in self.counts.items() if count})

    # --- choice -------------------------------------------------------------------------------

    def choose(self, primary: str, after_lsn: int | None = None) -> str | None:
        """A replica for one read of ``primary``'s data, or None to read from the primary.

        ``after_lsn``: only replicas that have replayed this WAL position (read-your-writes).
        """
        single = self.single_replicas.get(primary)
        if single is not None and after_lsn is None:
            alias, health = single  # the common case: one replica, all reads, no lag bound
            if not health.retry_at or health.retry_at <= time.monotonic():
                return alias
        if self.primary_health[primary].failures and self.primary_down(primary):
            return self._choose_without_primary(primary)
        if primary in self._bounded:
            self._refresh(primary, self.options.probe_interval)
        now = time.monotonic()
        candidates = []
        for role in self.replicas[primary]:
            health = self.health[role.alias]
            if health.retry_at > now:
                self.counts["skip:unavailable"] += 1
                continue
            if not self._within_bounds(role, health):
                self.counts["skip:lag"] += 1
                logger.debug("read of %s: replica %s skipped (lag)", primary, role.alias)
                continue
            if after_lsn is not None and not self.replayed(role.alias, primary, after_lsn):
                continue
            candidates.append(role)
        total = sum(role.read_weight for role in candidates) + self._primary_share[primary]
        point = random.random() * total
        for role in candidates:
            point -= role.read_weight
            if point < 0:
                return role.alias
        return None

    def _choose_without_primary(self, primary: str) -> str | None:
        """A replica while ``primary`` is unreachable: any reachable one, by weight (equal
        shares when every weight is 0); lag bounds and markers cannot be met by anything else."""
        now = time.monotonic()
        candidates = [r for r in self.replicas[primary] if self.health[r.alias].retry_at <= now]
        if not candidates:
            return None
        self.counts["replica:primary_down"] += 1
        total = sum(role.read_weight for role in candidates)
        if total <= 0:
            return random.choice(candidates).alias
        point = random.random() * total
        for role in candidates:
            point -= role.read_weight
            if point < 0:
                return role.alias
        return candidates[-1].alias

    @staticmethod
    def _within_bounds(role: DatabaseRole, health: ReplicaHealth) -> bool:
        if role.max_lag_bytes is not None and (
            health.lag_bytes is None or health.lag_bytes > role.max_lag_bytes
        ):
            return False
        return role.max_lag_seconds is None or (
            health.lag_seconds is not None and health.lag_seconds <= role.max_lag_seconds
        )

    # --- breaker ------------------------------------------------------------------------------

    def _breaker(self, alias: str) -> ReplicaHealth | None:
        health = self.health.get(alias)
        return health if health is not None else self.primary_health.get(alias)

    def is_unavailable(self, alias: str) -> bool:
        health = self._breaker(alias)
        return health is not None and health.retry_at > time.monotonic()

    def primary_down(self, primary: str) -> bool:
        """Whether ``primary``'s breaker is open. Once its retry time has come, one background
        thread tries it; reads stay elsewhere until that attempt answers."""
        health = self.primary_health.get(primary)
        if health is None or not health.failures:
            return False
        if health.retry_at <= time.monotonic() and not health.probing:
            self._retry_primary(primary, health)
        return True

    def _retry_primary(self, primary: str, health: ReplicaHealth) -> None:
        with self._health_lock:
            if health.probing or not health.failures:
                return
            health.probing = True
            health.retry_at = time.monotonic() + self.options.retry_interval
        threading.Thread(
            target=self._try_primary,
            args=(primary,),
            name=f"django_cfg retry {primary}",
            daemon=True,
        ).start()

    def _try_primary(self, primary: str) -> None:
        started = time.monotonic()
        probe = own_connection(primary, self.options.connect_timeout)
        try:
            probe.ensure_connection()
        except Exception as error:  # still down: the breaker stays open, with a longer wait
            if self.record_failure(primary, error, time.monotonic() - started):
                return
        finally:
            probe.close()
        self.record_success(primary)  # it answered (an error of its own is not an outage)

    def reachable(self, primary: str, wrapper: Any) -> bool:
        """Whether this context's connection ``wrapper`` to ``primary`` can serve a read: open
        and not broken, or opened now. A failure opens the primary's breaker (False)."""
        raw = wrapper.connection
        if raw is not None and not getattr(raw, "broken", False) and not getattr(raw, "closed", 0):
            return True
        if self.primary_down(primary):
            return False
        started = time.monotonic()
        try:
            if raw is not None:
                wrapper.close()  # broken: the server went away under it
            wrapper.ensure_connection()
        except Exception as error:  # not a connection failure: the read raises it
            return not self.record_failure(primary, error, time.monotonic() - started)
        return True

    def pin_position(self, primary: str) -> int | None:
        """``primary``'s WAL position for a read-your-writes marker, on this context's own
        connection; None when the primary cannot answer (its breaker is open, or the connection
        fails): the marker is then dropped. Either the write failed, and there is nothing to
        read back, or it committed before the primary went away, and then only a replica can
        serve the read anyway (and it has the write unless it lagged at that very moment).
        Any other error (the SQL's, e.g. a pooler's) is raised: the primary is up."""
        if not self.primary_down(primary):
            started = time.monotonic()
            try:
                return primary_wal_lsn(primary)
            except Exception as error:
                if not self.record_failure(primary, error, time.monotonic() - started):
                    raise
        self.counts["pin_dropped:primary_down"] += 1
        return None

    def may_connect(self, alias: str) -> bool:
        """Whether a new connection may go to ``alias``: yes while it is in rotation; after a
        failure, yes for one caller once its retry time has come (the others keep the primary
        until that attempt has answered)."""
        health = self.health.get(alias)
        if health is None or not health.failures:
            return True
        with self._health_lock:
            if not health.failures:
                return True  # another connection's attempt has just succeeded
            now = time.monotonic()
            if health.retry_at > now:
                return False
            health.probing = True
            health.retry_at = now + self.options.connect_timeout + FIRST_RETRY_SECONDS
            return True

    def record_failure(
        self, alias: str, error: BaseException, attempt_seconds: float = 0.0
    ) -> bool:
        """Count a failure of ``alias`` if ``error`` is a connection failure (True); any other
        error is logged and changes nothing (False). ``attempt_seconds``: how long the failed
        attempt took (timeouts back off longer)."""
        health = self._breaker(alias)
        if health is None:
            return False
        if not is_connection_failure(error):
            logger.warning(
                "%s answered with an error (not an outage, its breaker stays as it is): %s",
                alias,
                " ".join(f"{type(error).__name__}: {error}".split()),
            )
            return False
        primary = alias in self.primary_health
        with self._health_lock:
            if not primary:
                self.counts["failover"] += 1
            now = time.monotonic()
            if health.failures and not health.probing and health.retry_at > now:
                return True  # another connection already reported this outage
            first = not health.failures
            health.failures += 1
            health.probing = False
            slow = attempt_seconds >= SLOW_FAILURE_SECONDS
            doubled = max(FIRST_RETRY_SECONDS, health.wait * 2)
            health.wait = min(doubled, self.options.retry_interval) if slow else FIRST_RETRY_SECONDS
            health.retry_at = now + health.wait
            health.last_error = " ".join(f"{type(error).__name__}: {error}".split())
        log = logger.warning if first else logger.debug
        if primary:
            if first:
                self.counts["primary_unreachable"] += 1
            log(
                "primary %s is unreachable (%s); its share of reads goes to its replicas, "
                "writes fail; next try in %.1f s",
                alias,
                health.last_error,
                health.wait,
            )
            return True
        log(
            "replica %s is unavailable (%s); its reads go elsewhere, next try in %.1f s",
            alias,
            health.last_error,
            health.wait,
        )
        if first:
            replica_state_changed.send(
                sender=type(self), alias=alias, available=False, error=health.last_error
            )
        return True

    def record_success(self, alias: str) -> None:
        health = self._breaker(alias)
        if health is None or not health.failures:
            return
        with self._health_lock:
            health.failures, health.retry_at, health.wait, health.probing = 0, 0.0, 0.0, False
            health.last_error = None
        if alias in self.primary_health:
            logger.warning("primary %s answers again; it takes its share of reads", alias)
            return
        logger.warning("replica %s is available again", alias)
        replica_state_changed.send(sender=type(self), alias=alias, available=True, error=None)

    # --- WAL positions (PostgreSQL) -------------------------------------------------------------

    def replayed(self, alias: str, primary: str, lsn: int) -> bool:
        """Whether replica ``alias`` has replayed WAL position ``lsn`` (checked at most every
        tenth of ``probe_interval``)."""
        health = self.health[alias]
        if health.replay_lsn is not None and health.replay_lsn >= lsn:
            return True
        if time.monotonic() - health.replay_checked_at >= self.options.probe_interval / 10:
            self._in_background(lambda: self._probe_replica(alias, primary))
        return health.replay_lsn is not None and health.replay_lsn >= lsn

    def _refresh(self, primary: str, max_age: float) -> None:
        wal = self._wal[primary]
        if self.is_unavailable(primary):
            return  # nothing to compare with: the breaker retries the primary
        if time.monotonic() - wal.probed_at < max_age:
            return  # fresh enough
        self._in_background(lambda: self._refresh_now(primary))

    def _refresh_now(self, primary: str) -> None:
        """Ask ``primary`` and then each of its replicas for their WAL positions (the probe
        thread; nothing when another probe holds the lock)."""
        wal = self._wal[primary]
        if not self._probe_lock.acquire(blocking=False):
            return  # another thread is probing: use what we know
        try:
            wal.probed_at = time.monotonic()
            primary_lsn = self._query_lsn(primary, written_position)
            if primary_lsn is None:
                return
            now = time.monotonic()
            wal.samples.append((now, primary_lsn))
            for role in self.replicas[primary]:
                self._probe_replica(role.alias, primary, locked=True)
                health = self.health[role.alias]
                if health.replay_lsn is None:
                    health.lag_bytes = health.lag_seconds = None
                    continue
                health.lag_bytes = max(0, primary_lsn - health.replay_lsn)
                health.lag_seconds = _seconds_behind(wal.samples, health.replay_lsn, now)
        finally:
            self._probe_lock.release()

    def _in_background(self, work: Callable[[], None]) -> None:
        """Run ``work`` (a probe) on a daemon thread and wait for it at most
        ``connect_timeout`` seconds: a hung server holds no request longer, and is taken out
        of rotation until it answers. While another thread's probe is in flight nothing
        waits: what is known serves (and a probe in flight for too long is reported)."""
        bound = float(self.options.connect_timeout)
        with self._health_lock:
            flight = self._flight
            mine = flight is None or flight.done.is_set()
            if mine:
                flight = self._flight = _Flight(threading.Event(), time.monotonic())
        assert flight is not None
        if mine:
            threading.Thread(
                target=_fly, args=(flight, work), name="django_cfg lag probe", daemon=True
            ).start()
            if flight.done.wait(bound):
                return
        elif time.monotonic() - flight.started < bound:
            return
        self._report_hung(flight, bound)

    def _report_hung(self, flight: _Flight, bound: float) -> None:
        """The server ``flight`` waits for has not answered within ``bound`` seconds: its
        breaker opens (once per probe) until the probe, or a later one, gets its answer."""
        with self._health_lock:
            if flight.reported or flight.done.is_set() or flight.alias is None:
                return
            flight.reported = True
        error = OperationalError(
            f"{flight.alias} did not answer a WAL-position probe within {bound:g} s "
            "(connect_timeout): the server hangs or is overloaded"
        )
        self.record_failure(flight.alias, error, bound)

    def _probe_replica(self, alias: str, primary: str, locked: bool = False) -> None:
        if not locked and not self._probe_lock.acquire(blocking=False):
            return
        try:
            health = self.health[alias]
            health.replay_checked_at = time.monotonic()
            lsn = self._query_lsn(alias, replayed_position)
            if lsn is not None:
                health.replay_lsn = lsn
        finally:
            if not locked:
                self._probe_lock.release()

    def _query_lsn(self, alias: str, read: Callable[[Any], int | None]) -> int | None:
        """A WAL position ``read`` on this monitor's own connection to ``alias``; None if it
        cannot answer."""
        started = time.monotonic()
        if self._flight is not None:
            self._flight.alias = alias  # what a hung probe waits for
        try:
            probe = self._probe_connection(alias)
            if probe.vendor != "postgresql":
                return None
            with probe.cursor() as cursor:
                lsn = read(cursor)
        except Exception as error:  # an unreachable server: the breaker takes it out
            self._probes.pop(alias, None)
            self.record_failure(alias, error, time.monotonic() - started)
            return None
        self.record_success(alias)
        return lsn

    def _probe_connection(self, alias: str) -> Any:
        probe = self._probes.get(alias)
        if probe is None:
            probe = own_connection(alias, self.options.connect_timeout)
            probe.inc_thread_sharing()  # used by whichever thread holds the monitor's lock
            self._probes[alias] = probe
        return probe

    def close(self) -> None:
        """Close the probe connections (left open, with a warning, while a probe hangs on
        one of them for more than ``connect_timeout``)."""
        if not self._probe_lock.acquire(timeout=self.options.connect_timeout):
            logger.warning("a lag probe hangs: its connections are left open")
            return
        try:
            for probe in self._probes.values():
                probe.close()
            self._probes.clear()
        finally:
            self._probe_lock.release()

    def status(self) -> Mapping[str, Mapping[str, Any]]:
        """Per replica: unavailable or not, the last error, lag (bytes, seconds), for db_status."""
        now = time.monotonic()
        return {
            alias: {
                "available": health.retry_at <= now,
                "error": health.last_error,
                "lag_bytes": health.lag_bytes,
                "lag_seconds": health.lag_seconds,
            }
            for alias, health in self.health.items()
        }


def _seconds_behind(samples: deque[tuple[float, int]], replay_lsn: int, now: float) -> float:
    """How long ago the primary was where the replica is now (0 when it is caught up)."""
    if samples and replay_lsn >= samples[-1][1]:
        return 0.0
    reached = [t for t, lsn in samples if lsn <= replay_lsn]
    return now - (reached[-1] if reached else samples[0][0])


def replicas_by_primary(topology: Topology) -> dict[str, tuple[DatabaseRole, ...]]:
    """``{primary: its replicas' roles}`` for the primaries that have replicas."""
    replicas: dict[str, tuple[DatabaseRole, ...]] = {}
    for role in topology.roles.values():
        if role.replica_of is not None:
            replicas[role.replica_of] = (*replicas.get(role.replica_of, ()), role)
    return replicas


def primary_wal_lsn(alias: str) -> int | None:
    """The primary's current WAL position, on this context's own connection (None if not PG)."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        return written_position(cursor)
