"""``manage.py db_status`` tells the truth (issue 21, point 3), on a private primary + hot standby
(tests/support/private_cluster.py) that it hangs, pauses and promotes: each server's own role,
lag in seconds and bytes, paused replay, one timeout for a hung primary however many replicas it
has, and the exit status (0 healthy, 1 a primary unreachable, 3 degraded).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.manage_py_project import write_manage_py_project
from tests.support.private_cluster import PrivatePair, private_pair
from tests.support.spec_page import run_process

pytestmark = pytest.mark.postgres

CONFIG = """\
    import os
    from django_cfg import DatabaseConfig, DjangoConfig

    class StatusConfig(DjangoConfig):
        databases = {
            "default": DatabaseConfig.from_url(os.environ["PRIMARY_URL"]),
            "replica": DatabaseConfig.from_url(os.environ["STANDBY_URL"], replica_of="default"),
            "reports": DatabaseConfig.from_url(
                os.environ["STANDBY_URL"], replica_of="default", read_weight=0
            ),
        }

    config = StatusConfig()
    """


@pytest.fixture(scope="module")
def pair() -> Iterator[PrivatePair]:
    with private_pair() as built:
        yield built


@pytest.fixture
def project(tmp_path: Path, pair: PrivatePair) -> Path:
    write_manage_py_project(tmp_path, CONFIG)
    return tmp_path


def db_status(project: Path, pair: PrivatePair, *args: str) -> tuple[int, str, float]:
    """(exit status, stdout + stderr, seconds it took)."""
    env = {"PRIMARY_URL": pair.primary.url(), "STANDBY_URL": pair.standby.url()}
    started = time.monotonic()
    run = run_process(
        [sys.executable, "manage.py", "db_status", *args], cwd=project, env=env, timeout=120
    )
    return run.returncode, run.stdout + run.stderr, time.monotonic() - started


def statuses(text: str) -> dict[str, dict[str, object]]:
    listed = json.loads(text[: text.index("\n]") + 2])
    return {status["alias"]: status for status in listed}


def test_healthy_pair_exits_0_with_each_servers_role_and_lag(
    project: Path, pair: PrivatePair
) -> None:
    pair.wait_for_standby()
    code, text, _ = db_status(project, pair, "--json")
    assert code == 0, text
    found = statuses(text)
    assert found["default"]["server_role"] == "primary"
    assert found["replica"]["server_role"] == "standby"
    assert found["replica"]["replay_paused"] is False
    assert isinstance(found["replica"]["lag_seconds"], float)
    assert isinstance(found["replica"]["lag_bytes"], int)
    code, text, _ = db_status(project, pair)
    assert code == 0, text
    assert "role: replica of default (the server: standby)" in text
    assert "replication lag: 0.00 s, " in text


def test_paused_replay_is_degraded_with_lag_in_seconds_and_bytes(
    project: Path, pair: PrivatePair
) -> None:
    with pair.standby.connect() as standby, pair.primary.connect() as primary:
        primary.execute("CREATE TABLE IF NOT EXISTS written (n int)")
        pair.wait_for_standby()  # a replayed commit: its age is the lag in seconds
        standby.execute("SELECT pg_wal_replay_pause()")
        try:
            primary.execute("INSERT INTO written SELECT generate_series(1, 1000)")
            time.sleep(1.2)  # the replica's last replayed commit gets older
            code, text, _ = db_status(project, pair, "--json")
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")
    assert code == 3, text
    replica = statuses(text)["replica"]
    assert replica["replay_paused"] is True
    assert isinstance(replica["lag_bytes"], int)
    assert replica["lag_bytes"] > 0
    assert isinstance(replica["lag_seconds"], float)
    assert replica["lag_seconds"] >= 1
    assert "replay is paused" in text
    assert "2 databases degraded" in text  # both aliases of the standby


def test_a_hung_primary_costs_one_timeout_and_exits_1(project: Path, pair: PrivatePair) -> None:
    with pair.primary.hung():
        code, text, seconds = db_status(project, pair, "--timeout", "2")
    print(f"\nDB_STATUS hung primary, 2 replica aliases, --timeout 2: {seconds:.2f} s, exit {code}")
    assert code == 1, text
    assert "default" in text
    assert "timeout" in text.lower()
    # Before: (1 + replicas) connect timeouts in a row (each replica's lag asked the primary).
    # Now every server at once: one timeout, plus the interpreter and Django's start.
    assert seconds < 2 * 2 + 3


def test_a_promoted_replica_is_named_and_exits_3(project: Path, pair: PrivatePair) -> None:
    pair.standby.promote()  # last: the pair has no standby after it
    deadline = time.monotonic() + 30
    while True:
        with pair.standby.connect() as standby:
            row = standby.execute("SELECT pg_is_in_recovery()").fetchone()
        if row == (False,) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    code, text, _ = db_status(project, pair)
    assert code == 3, text
    assert "role: replica of default (the server: primary)" in text
    assert "the replica is now a primary" in text
    assert "default has no standby left" in text
    assert "bytes of WAL to replay" not in text  # no lag is made up for a primary
