"""Background work in a Celery worker of its own process, on a real Redis broker
(redis://127.0.0.1:6379/7, a queue per test): the project's ``app.autodiscover_tasks()`` starts
on Django 5.2 and 6.x, and read-your-writes markers travel with each task as its tenant does,
with the prefork and the threads pool.

On SQLite a tenant's replica is a copy of its file taken by the test (``snapshot``); on
PostgreSQL it is the real streaming replica (5433), its replay paused while the scenario runs.
Either way a read that finds the row written by the scenario came from the tenant's own database.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.replica_tools import replay_paused, start_replica, wait_for_replica
from tests.support.services import POSTGRES_URL, REPLICA_URL, sibling_url
from tests.support.spec_page import user_environment
from tests.tenants.project.scenarios import write
from tests.tenants.project_support import ROOT, TenantProject
from tests.tenants.test_replicas import REPLICA, TEMPLATE, snapshot

BROKER = "redis://127.0.0.1:6379/7"


@pytest.fixture(autouse=True)
def _redis() -> None:
    import redis

    try:
        redis.Redis.from_url(BROKER, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        pytest.skip(f"no Redis at {BROKER}: {error}")


def worker_env() -> dict[str, str]:
    return {
        "TENANT_TEST_BROKER": BROKER,
        "TENANT_TEST_QUEUE": f"tenantsvc-{uuid.uuid4().hex}",  # no other run takes its tasks
        "TENANT_TEST_PIN_SECONDS": "120",  # a slow machine never ends a pin early here
    }


@contextmanager
def celery_worker(project: TenantProject, pool: str) -> Iterator[None]:
    """``celery worker`` of the project's ``proj/celery.py`` (worker_app) in its own process."""
    command = [sys.executable, "-m", "celery", "-A", "tests.tenants.project.worker_app"]
    options = ["-P", pool, "-c", "2", "-Q", project.env["TENANT_TEST_QUEUE"]]
    quiet = ["--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    worker = subprocess.Popen(
        [*command, "worker", *options, *quiet],
        cwd=ROOT,
        env=user_environment(project.env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield
    finally:
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
        assert "Traceback" not in output, output


def check_pins_travelled(out: dict[str, Any], acme: str, beta: str) -> None:
    # The write's marker travelled in the message: the worker read acme's own database
    assert out["after write"]["tenant"] == acme
    assert out["after write"]["titles"] == [f"{acme}-new", f"{acme}-row"]
    assert out["after write"]["db"] == [f"tenant_{acme}"]
    # beta wrote nothing: its task reads beta's replica
    assert (out["other tenant"]["tenant"], out["other tenant"]["db"]) == (
        beta,
        [f"tenant_{beta}.replica"],
    )
    # Without the integration (as before it), the worker read the replica, which lacks the row;
    # a worker process's next task does not inherit the pins of the task before it
    assert out["without pins"]["titles"] == [f"{acme}-row"]
    assert out["without pins"]["db"] == [f"tenant_{acme}.replica"]
    assert out["again"]["titles"] == [f"{acme}-new", f"{acme}-row"]


@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_sqlite_a_task_queued_after_a_write_reads_it(tmp_path: Path, pool: str) -> None:
    project = TenantProject(
        tmp_path, TEMPLATE, names=["acme", "beta"], replica_urls=[REPLICA], extra_env=worker_env()
    )
    project.manage("migrate_all", "--verbosity", "0")
    project.scenario(write, "acme", "beta")
    snapshot(project, "acme", "beta")
    with celery_worker(project, pool):
        out = project.scenario("tests.tenants.project.worker_scenarios:celery_pins", "acme", "beta")
    check_pins_travelled(out, "acme", "beta")


@pytest.mark.postgres
@pytest.mark.replica
def test_postgresql_a_task_queued_after_a_write_reads_it(tmp_path: Path) -> None:
    suffix = secrets.token_hex(3)
    acme, beta = f"acme{suffix}", f"beta{suffix}"
    project = TenantProject(
        tmp_path,
        sibling_url(POSTGRES_URL, "_t_{tenant}"),
        replica_urls=[sibling_url(REPLICA_URL, "_t_{tenant}")],
        extra_env=worker_env(),
    )
    project.manage("migrate_all", "--verbosity", "0")
    start_replica()
    try:
        for name in (acme, beta):
            project.manage("create_tenant", name, "--verbosity", "0")
        project.scenario(write, acme, beta)
        wait_for_replica()  # the tenants' first rows are on the standby
        with celery_worker(project, "prefork"), replay_paused():
            out = project.scenario("tests.tenants.project.worker_scenarios:celery_pins", acme, beta)
        check_pins_travelled(out, acme, beta)
    finally:
        for name in (acme, beta):
            project.manage("drop_tenant", name, "--drop-database", "--noinput", check=False)
