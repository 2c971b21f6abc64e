"""Bounded waits on a hung (SIGSTOPped) server (issue 21, point 4), on a private primary + hot
standby (tests/support/private_cluster.py) and an app process that reads in threads, each read
one "request" (Django's request signals open and close connections as in a view).

The replica has a lag bound, so reads probe the replay position (every ``probe_interval``); the
probe used to hold the read that ran it for the whole hang (19.98 s for a 20 s SIGSTOP). Now a
hung replica costs a read about ``connect_timeout`` at most. Each test prints its figures
(``HUNG ...``, ``pytest -s``) for docs/deployment.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from tests.support.manage_py_project import (
    SCRIPT_SETUP,
    unmanaged_model,
    write_manage_py_project,
)
from tests.support.private_cluster import PrivatePair, private_pair
from tests.support.spec_page import user_environment

pytestmark = pytest.mark.postgres

HANG_SECONDS = 8.0
CONNECT_TIMEOUT = 2  # ReplicaOptions.connect_timeout, the replica's default

CONFIG = """\
    import os
    from django_cfg import DatabaseConfig, DjangoConfig

    class HungConfig(DjangoConfig):
        project_apps = ["rows"]
        databases = {
            "default": DatabaseConfig.from_url(os.environ["PRIMARY_URL"]),
            "replica": DatabaseConfig.from_url(
                os.environ["STANDBY_URL"], replica_of="default", max_lag_seconds=5
            ),
        }
        replica_probe_interval = 0.2
        replica_retry_interval = 2.0

    config = HungConfig()
    """

MODELS = unmanaged_model("Row", "hung_row", "name = models.TextField()")

APP = (
    SCRIPT_SETUP
    + """\
# python app.py read|write: 4 threads, each running one "request" after another (a read of
# one row, or an insert) until stdin closes, then one JSON line: each request's (start,
# seconds, the alias that served the read / "ok" for a write, or the error).
import json, sys, threading, time

from django.core.signals import request_finished, request_started
from rows.models import Row

stop, requests, lock = threading.Event(), [], threading.Lock()


def read():
    return Row.objects.get(pk=1)._state.db


def write():
    Row.objects.create(name="w")
    return "ok"


def serve(work):
    while not stop.is_set():
        request_started.send(sender=None)
        started = time.time()
        try:
            outcome = work()
        except Exception as error:
            outcome = f"error {type(error).__name__}: {str(error)[:200]}"
        finally:
            request_finished.send(sender=None)
        with lock:
            requests.append((started, time.time() - started, outcome))
        time.sleep(0.01)


work = {"read": read, "write": write}[sys.argv[1]]
threads = [threading.Thread(target=serve, args=(work,)) for _ in range(4)]
for thread in threads:
    thread.start()
print("started", flush=True)
sys.stdin.read()
stop.set()
for thread in threads:
    thread.join(60)
print(json.dumps(requests), flush=True)
"""
)

FAULT_STARTED: list[float] = []
"""When each run_app fault was in place (wall clock, as the app's timestamps)."""
FAULT_ENDED: list[float] = []
"""When each run_app fault was over (the server resumed or restarted)."""


@pytest.fixture(scope="module")
def pair() -> Iterator[PrivatePair]:
    with private_pair() as built:
        with built.primary.connect() as primary:
            primary.execute("CREATE TABLE hung_row (id serial PRIMARY KEY, name text)")
            primary.execute("INSERT INTO hung_row (name) VALUES ('there')")
        built.wait_for_standby()
        yield built


def run_app(
    root: Path,
    work: str,
    env: dict[str, str],
    fault: AbstractContextManager[object],
    hang: float,
    after: float = 1,
    timeout: float = 120,
) -> list[tuple[float, float, str]]:
    """The app's threads ``work`` ("read" or "write") for 1 s, with ``fault`` in place for
    ``hang`` s, then ``after`` s more; every request as (start, seconds, outcome)."""
    write_manage_py_project(root, CONFIG, apps={"rows": MODELS}, files={"app.py": APP})
    app = subprocess.Popen(
        [sys.executable, "app.py", work],
        cwd=root,
        env=user_environment(env),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert app.stdout is not None
    try:
        assert app.stdout.readline().strip() == "started"
        time.sleep(1)
        with fault:
            FAULT_STARTED.append(time.time())  # every server process stopped (finding them
            time.sleep(hang)  # in /proc took 0.2-0.3 s on a loaded machine)
        FAULT_ENDED.append(time.time())
        time.sleep(after)
        stdout, stderr = app.communicate("", timeout=timeout)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
    assert app.returncode == 0, stderr
    return [tuple(request) for request in json.loads(stdout.splitlines()[-1])]


def run_reader(root: Path, pair: PrivatePair, hang: float) -> list[tuple[float, float, str]]:
    """Reads for 1 s, the standby hung for ``hang`` s, then 1 s more; every read."""
    env = {"PRIMARY_URL": pair.primary.url(), "STANDBY_URL": pair.standby.url()}
    return run_app(root, "read", env, pair.standby.hung(), hang)


def run_writer(
    root: Path, pair: PrivatePair, query: str, hang: float, fault: str = "hung"
) -> list[tuple[float, float, str]]:
    """Writes for 1 s, the primary ``fault`` ("hung" or "down") for ``hang`` s, then 1 s more
    (6 s after a crash: recovery, and the pool's reconnection backoff); every write."""
    env = {"PRIMARY_URL": pair.primary.url() + query, "STANDBY_URL": pair.standby.url()}
    hung = fault == "hung"
    failure = pair.primary.hung() if hung else pair.primary.down()
    return run_app(root, "write", env, failure, hang, after=1 if hung else 6, timeout=180)


def test_a_hung_replica_costs_a_read_about_connect_timeout_at_most(
    tmp_path: Path, pair: PrivatePair
) -> None:
    reads = run_reader(tmp_path, pair, HANG_SECONDS)
    hung_from = FAULT_STARTED[-1]
    slowest_of_all = max(seconds for _, seconds, _ in reads)
    # A read in flight on the standby when it stops waits for it whatever the settings (as a
    # write does; stopping its processes took 0.2-0.3 s on a loaded machine, 8.06 s seen): the
    # bound is for the reads that start while it hangs.
    during = [s for started, s, _ in reads if hung_from < started < hung_from + HANG_SECONDS]
    assert during, "no read started while the standby hung"
    slowest = max(during)
    errors = [served for _, _, served in reads if served.startswith("error")]
    by_alias = {alias: sum(1 for *_, s in reads if s == alias) for alias in ("default", "replica")}
    print(
        f"\nHUNG replica {HANG_SECONDS:.0f} s, 4 reader threads: {len(reads)} reads, "
        f"slowest {slowest:.2f} s started while hung ({slowest_of_all:.2f} s of all), "
        f"{len(errors)} failed, served {by_alias}"
    )
    assert not errors, errors[:3]
    assert slowest < CONNECT_TIMEOUT + 1.5, f"a read waited {slowest:.2f} s for the hung replica"
    assert by_alias["default"]
    assert by_alias["replica"]


WRITE_MODES = {
    "conn_max_age=0": "",
    "conn_max_age=60+health_checks": "?conn_max_age=60&conn_health_checks=true",
    "pool": "?pool=true",  # checks each connection it hands out (DatabaseConfig's default)
}


@pytest.mark.parametrize("mode", list(WRITE_MODES))
def test_a_write_to_a_hung_primary_fails_within_the_bound(
    tmp_path: Path, pair: PrivatePair, mode: str
) -> None:
    writes = run_writer(tmp_path, pair, WRITE_MODES[mode], HANG_SECONDS)
    hung_from = FAULT_STARTED[-1]
    # A write in flight when the server stops waits for it whatever the settings (8.02 s in one
    # run with conn_max_age=0): no client-side deadline bounds a statement (a slow query would
    # be cut short too). The bound is for the writes that start while it hangs, the health
    # check of a kept or pooled connection included.
    during = [s for started, s, _ in writes if hung_from < started < hung_from + HANG_SECONDS]
    assert during, "no write started while the primary hung"
    slowest = max(during)
    failed = [outcome for _, _, outcome in writes if outcome != "ok"]
    print(
        f"\nHUNG primary {HANG_SECONDS:.0f} s, {mode}, 4 writer threads: {len(writes)} writes, "
        f"slowest started while hung {slowest:.2f} s (of all, those in flight at the stop "
        f"included: {max(s for _, s, _ in writes):.2f} s), {len(failed)} failed: "
        f"{sorted(set(failed))[:2]}"
    )
    assert any(o == "ok" for at, _, o in writes if at < hung_from), "no write before the hang"
    assert any(o == "ok" for at, _, o in writes if at > hung_from + HANG_SECONDS + 0.5)
    assert slowest < 5 + 1.5, f"a write waited {slowest:.2f} s for the hung primary"


def test_a_pooled_write_waits_at_most_the_connect_timeout_while_the_primary_is_down(
    tmp_path: Path, pair: PrivatePair
) -> None:
    """psycopg_pool waits up to its ``timeout`` (30 s by default) for a connection while it
    reconnects; DatabaseConfig makes that the connect timeout (5 s)."""
    writes = run_writer(tmp_path, pair, "?pool=true", HANG_SECONDS, fault="down")
    slowest = max(seconds for _, seconds, _ in writes)
    failed = [outcome for _, _, outcome in writes if outcome != "ok"]
    print(
        f"\nDOWN primary {HANG_SECONDS:.0f} s (crashed), pool, 4 writer threads: {len(writes)} "
        f"writes, slowest {slowest:.2f} s, {len(failed)} failed: {sorted(set(failed))[:2]}"
    )
    assert failed, "no write failed while the primary was down"
    # A write that was waiting for the pool when the server came back may still time out; the
    # pool reconnects with a backoff, so the writes come back within a few seconds of the restart.
    restarted = FAULT_ENDED[-1]
    assert any(o == "ok" for at, _, o in writes if at > restarted), "no write after the restart"
    assert writes[-1][2] == "ok", "the last writes still failed 6 s after the restart"
    assert slowest < 5 + 1.5, f"a write waited {slowest:.2f} s for the pool"
