"""Background work in a Celery worker of its own process, on a real Redis broker
(redis://127.0.0.1:6379/7, a queue per test): the project's ``app.autodiscover_tasks()`` starts
on Django 5.2 and 6.x, and read-your-writes markers travel with each task as its tenant does,
with the prefork and the threads pool.

The tenant replicas are SQLite copies of each tenant's file taken by the test (``snapshot``):
a read that finds the row written after the copy came from the tenant's own database.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.spec_page import user_environment
from tests.tenants.project_support import ROOT, TenantProject
from tests.tenants.test_replicas import REPLICA, TEMPLATE, snapshot

BROKER = "redis://127.0.0.1:6379/7"


def _redis_answers() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(BROKER, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["prefork", "threads"])
def worker_project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TenantProject]:
    if not _redis_answers():
        pytest.skip(f"no Redis at {BROKER}")
    queue = f"tenantsvc-{uuid.uuid4().hex}"
    project = TenantProject(
        tmp_path,
        TEMPLATE,
        names=["acme", "beta"],
        replica_urls=[REPLICA],
        extra_env={
            "TENANT_TEST_BROKER": BROKER,
            "TENANT_TEST_QUEUE": queue,
            "TENANT_TEST_PIN_SECONDS": "120",  # a slow machine never ends a pin early here
        },
    )
    project.manage("migrate_all", "--verbosity", "0")
    project.scenario("write", "acme", "beta")
    snapshot(project, "acme", "beta")
    command = [sys.executable, "-m", "celery", "-A", "tests.tenants.project.worker_app"]
    options = ["-P", request.param, "-c", "2", "-Q", queue, "--loglevel", "WARNING"]
    quiet = ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    worker = subprocess.Popen(
        [*command, "worker", *options, *quiet],
        cwd=ROOT,
        env=user_environment(project.env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield project
    finally:
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
        assert "Traceback" not in output, output


def test_a_task_queued_after_a_write_reads_it_on_the_worker(worker_project: TenantProject) -> None:
    out = worker_project.scenario("celery_pins", "acme", "beta")
    # The write's marker travelled in the message: the worker read acme's own database
    assert out["after write"]["tenant"] == "acme"
    assert out["after write"]["titles"] == ["acme-new", "acme-row"]
    assert out["after write"]["db"] == ["tenant_acme"]
    # beta wrote nothing: its task reads beta's replica
    assert out["other tenant"] == {
        **out["other tenant"],
        "tenant": "beta",
        "db": ["tenant_beta.replica"],
    }
    # Without the integration (as before it), the worker read the replica, which lacks the row;
    # a worker process's next task does not inherit the pins of the one before
    assert out["without pins"]["titles"] == ["acme-row"]
    assert out["without pins"]["db"] == ["tenant_acme.replica"]
    assert out["again"]["titles"] == ["acme-new", "acme-row"]
