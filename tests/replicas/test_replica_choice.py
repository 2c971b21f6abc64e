"""Replica configuration and the monitor's choices, without a database."""

from __future__ import annotations

import random
import time
from collections import Counter, deque
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from django_cfg import DatabaseConfig, DjangoConfig
from django_cfg.state.replica_monitor import (
    ReplicaHealth,
    ReplicaMonitor,
    ReplicaOptions,
    _seconds_behind,
    format_lsn,
    parse_lsn,
)
from django_cfg.state.topology import Topology

PG = "postgresql://app@db/main"
REPLICA = "postgresql://app@replica/main"


def monitor(retry_interval: float = 30.0, **replicas: dict) -> ReplicaMonitor:
    databases = {"default": {}, **{alias: {} for alias in replicas}}
    roles = {alias: {"replica_of": "default", **role} for alias, role in replicas.items()}
    topology = Topology.from_settings(
        SimpleNamespace(DATABASES=databases, DATABASE_ROLES=roles), app_labels={}
    )
    return ReplicaMonitor(topology, ReplicaOptions(retry_interval=retry_interval))


def shares(chooser: ReplicaMonitor, reads: int = 20000) -> dict[str | None, float]:
    random.seed(7)
    counts = Counter(chooser.choose("default") for _ in range(reads))
    return {alias: round(count / reads, 2) for alias, count in counts.items()}


def test_the_specs_80_20_split_is_one_line() -> None:
    assert shares(monitor(replica={"read_weight": 0.8})) == {"replica": 0.8, None: 0.2}


def test_weights_of_one_or_more_send_every_read_to_replicas_in_proportion() -> None:
    assert shares(monitor(replica={})) == {"replica": 1.0}
    two = shares(monitor(small={"read_weight": 1}, large={"read_weight": 3}))
    assert two == {"small": 0.25, "large": 0.75}


def test_a_failed_replica_leaves_rotation_until_its_retry_time() -> None:
    chooser = monitor(retry_interval=4.0, a={"read_weight": 0.5}, b={"read_weight": 0.5})
    chooser.record_failure("a", ConnectionError("refused"))
    assert shares(chooser) == {"b": 1.0}  # a's share goes to the others
    assert chooser.status()["a"]["error"] == "ConnectionError: refused"
    assert not chooser.may_connect("a")
    assert chooser.is_unavailable("a")
    chooser.record_success("a")
    assert not chooser.is_unavailable("a")
    assert chooser.may_connect("a")
    assert set(shares(chooser)) == {"a", "b"}


def retry_waits(chooser: ReplicaMonitor, attempt_seconds: float, attempts: int) -> list[int]:
    """Fail ``attempts`` times in a row, each time as the one connection allowed to try again."""
    waits = []
    for _ in range(attempts):
        chooser.health["a"].retry_at = 0.0  # its retry time has come
        assert chooser.may_connect("a")  # this caller tries the replica again...
        assert not chooser.may_connect("a")  # ...and nobody else meanwhile
        before = time.monotonic()
        chooser.record_failure("a", ConnectionError("down"), attempt_seconds)
        waits.append(round(chooser.health["a"].retry_at - before))
    return waits


def test_refused_connections_are_retried_every_second_timeouts_back_off() -> None:
    chooser = monitor(retry_interval=4.0, a={})
    chooser.record_failure("a", ConnectionError("refused"))
    assert retry_waits(chooser, attempt_seconds=0.01, attempts=3) == [1, 1, 1]
    assert retry_waits(chooser, attempt_seconds=2.0, attempts=4) == [2, 4, 4, 4]  # capped
    assert retry_waits(chooser, attempt_seconds=0.01, attempts=1) == [1]
    assert chooser.counters["failover"] == 9


def test_failures_of_other_connections_during_an_outage_do_not_extend_it() -> None:
    chooser = monitor(a={})
    chooser.record_failure("a", ConnectionError("refused"), attempt_seconds=2.0)
    retry_at = chooser.health["a"].retry_at
    for _ in range(3):  # the other threads' connections die at the same time
        chooser.record_failure("a", ConnectionError("closed"))
    assert chooser.health["a"].retry_at == retry_at
    assert chooser.health["a"].failures == 1
    assert chooser.counters["failover"] == 4


def test_lag_bounds_skip_a_replica_until_it_is_measured_within_them() -> None:
    chooser = monitor(replica={"max_lag_bytes": 1000})
    chooser._wal["default"].probed_at = time.monotonic() + 3600  # no probe in this unit test
    assert chooser.choose("default") is None  # not measured yet: not trusted
    chooser.health["replica"].lag_bytes = 10
    assert chooser.choose("default") == "replica"
    chooser.health["replica"].lag_bytes = 5000
    assert chooser.choose("default") is None
    assert chooser.counters["skip:lag"] == 2


def test_lag_in_seconds_comes_from_wal_positions_not_replay_timestamps() -> None:
    samples = deque([(100.0, 1000), (101.0, 2000), (102.0, 3000)])
    assert _seconds_behind(samples, 3000, now=105.0) == 0.0  # caught up, however idle
    assert _seconds_behind(samples, 2500, now=105.0) == 4.0  # the primary was there at 101
    assert _seconds_behind(samples, 500, now=105.0) == 5.0  # older than every sample
    assert parse_lsn("16/B374D848") == (0x16 << 32) + 0xB374D848
    assert format_lsn(parse_lsn("16/B374D848")) == "16/B374D848"


def test_replica_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="read_weight only apply to a replica"):
        DatabaseConfig.from_url(PG, read_weight=0.5)
    with pytest.raises(ValidationError, match="max_lag_seconds only apply to a replica"):
        DatabaseConfig.from_url(PG, max_lag_seconds=2)
    with pytest.raises(ValidationError, match="read-only by nature"):
        DatabaseConfig.from_url(REPLICA, replica_of="default", read_only=True)


def test_a_postgresql_replica_gets_the_failover_backend_and_a_connect_timeout() -> None:
    rendered = DatabaseConfig.from_url(REPLICA, replica_of="default").to_django()
    assert rendered["ENGINE"] == "django_cfg.backends.replica_postgresql"
    assert rendered["OPTIONS"]["connect_timeout"] == 2
    assert rendered["TEST"] == {"MIRROR": "default"}
    explicit = DatabaseConfig.from_url(REPLICA + "?connect_timeout=9", replica_of="default")
    assert explicit.to_django()["OPTIONS"]["connect_timeout"] == 9
    sqlite = DatabaseConfig.from_url("sqlite://", replica_of="default").to_django()
    assert sqlite["ENGINE"] == "django.db.backends.sqlite3"


@pytest.mark.parametrize(
    ("url", "key", "value"),
    [
        (PG, "options", "-c default_transaction_read_only=on"),
        ("mysql://root@db/w", "init_command", "SET SESSION TRANSACTION READ ONLY"),
        ("sqlite:///w.sqlite3", "init_command", "PRAGMA query_only = ON"),
    ],
)
def test_read_only_databases_refuse_writes_at_the_session(url: str, key: str, value: str) -> None:
    assert DatabaseConfig.from_url(url, read_only=True).to_django("/tmp")["OPTIONS"][key] == value


def test_replicas_bring_the_middleware_and_options() -> None:
    config = DjangoConfig(
        databases={
            "default": DatabaseConfig.from_url(PG),
            "replica": DatabaseConfig.from_url(
                REPLICA, replica_of="default", read_weight=0.8, max_lag_seconds=2
            ),
        },
        replica_probe_interval=0.5,
    )
    settings = config.get_all_settings()
    assert settings["MIDDLEWARE"][:2] == [
        "django.middleware.security.SecurityMiddleware",
        "django_cfg.replicas.pinning.ReadYourWritesMiddleware",
    ]
    assert settings["DATABASE_ROLES"]["replica"] == {
        "replica_of": "default",
        "read_weight": 0.8,
        "max_lag_seconds": 2.0,
    }
    assert settings["DATABASE_REPLICA_OPTIONS"] == {
        "probe_interval": 0.5,
        "retry_interval": 30.0,
        "pin_seconds": 5.0,
        "primary_reads": ["auth", "sessions"],
    }
    plain = DjangoConfig(databases={"default": DatabaseConfig.from_url(PG)}).get_all_settings()
    assert "django_cfg.replicas.pinning.ReadYourWritesMiddleware" not in plain["MIDDLEWARE"]
    assert "DATABASE_REPLICA_OPTIONS" not in plain


def test_each_primary_reads_from_its_own_replicas() -> None:
    import contextvars

    from django_cfg.routing.router import DatabaseRouter

    topology = Topology.from_settings(
        SimpleNamespace(
            DATABASES={"default": {}, "sqlite_blog": {}, "main_copy": {}, "blog_copy": {}},
            DATABASE_ROUTING_RULES={"lite_posts": "sqlite_blog"},
            DATABASE_ROLES={
                "main_copy": {"replica_of": "default"},
                "blog_copy": {"replica_of": "sqlite_blog"},
            },
        ),
        app_labels={},
    )
    router = DatabaseRouter(topology)
    people = SimpleNamespace(
        _meta=SimpleNamespace(app_label="lite_people", label_lower="lite_people.person")
    )
    posts = SimpleNamespace(
        _meta=SimpleNamespace(app_label="lite_posts", label_lower="lite_posts.post")
    )

    def reads() -> tuple[str, str, str, str]:
        return (
            router.db_for_read(people),
            router.db_for_read(posts),
            router.db_for_write(people),
            router.db_for_write(posts),
        )

    assert contextvars.Context().run(reads) == ("main_copy", "blog_copy", "default", "sqlite_blog")


def test_write_markers_from_the_cookie_expire_pin_seconds_after_the_write() -> None:
    from django.http import HttpResponse
    from django.test import RequestFactory

    from django_cfg.replicas.pinning import _COOKIE_SALT, COOKIE_NAME, ReadYourWritesMiddleware
    from django_cfg.state.pins import EMPTY

    def request_with(value: str) -> object:
        response = HttpResponse()  # signed exactly as the middleware signs it
        response.set_signed_cookie(COOKIE_NAME, value, salt=_COOKIE_SALT)
        request = RequestFactory().get("/")
        request.COOKIES[COOKIE_NAME] = response.cookies[COOKIE_NAME].value
        return request

    fresh = ReadYourWritesMiddleware._incoming(request_with(f"postgres:123:{time.time():.3f}"))
    assert fresh.writes["postgres"].lsn == 123
    stale = ReadYourWritesMiddleware._incoming(request_with(f"postgres:123:{time.time() - 60:.3f}"))
    assert stale is EMPTY  # older than pin_seconds (5 s): no longer pins reads
    assert ReadYourWritesMiddleware._incoming(request_with("not a marker")) is EMPTY


def test_a_retry_that_finds_the_replica_recovered_meanwhile_leaves_it_in_rotation() -> None:
    class RecoveredWhileWaitingForTheLock(ReplicaHealth):
        """``failures`` reads 1 before the monitor's lock is taken, 0 after."""

        reads = 0

        @property
        def failures(self) -> int:
            self.reads += 1
            return 1 if self.reads == 1 else 0

        @failures.setter
        def failures(self, value: int) -> None:
            pass

    chooser = monitor(a={})
    chooser.health["a"] = RecoveredWhileWaitingForTheLock()
    assert chooser.may_connect("a")
    assert not chooser.is_unavailable("a")  # no retry window was opened on a healthy replica
