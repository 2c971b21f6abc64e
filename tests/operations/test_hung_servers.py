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
from pathlib import Path

import pytest

from tests.support.manage_py_project import write_manage_py_project
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

MODELS = """\
from django.db import models


class Row(models.Model):
    name = models.TextField()

    class Meta:
        db_table = "hung_row"
        managed = False
"""

READER = """\
# Reader threads read one row per "request" until stdin closes, then print one JSON line:
# each read's (start, seconds, alias or error).
import json, os, sys, threading, time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")
import django

django.setup()
from django.core.signals import request_finished, request_started
from rows.models import Row

stop, reads, lock = threading.Event(), [], threading.Lock()


def read():
    while not stop.is_set():
        request_started.send(sender=None)
        started = time.time()
        try:
            served = Row.objects.get(pk=1)._state.db
        except Exception as error:
            served = f"error {type(error).__name__}: {error}"
        finally:
            request_finished.send(sender=None)
        with lock:
            reads.append((started, time.time() - started, served))
        time.sleep(0.01)


threads = [threading.Thread(target=read) for _ in range(4)]
for thread in threads:
    thread.start()
print("started", flush=True)
sys.stdin.read()
stop.set()
for thread in threads:
    thread.join(60)
print(json.dumps(reads), flush=True)
"""


@pytest.fixture(scope="module")
def pair() -> Iterator[PrivatePair]:
    with private_pair() as built:
        with built.primary.connect() as primary:
            primary.execute("CREATE TABLE hung_row (id serial PRIMARY KEY, name text)")
            primary.execute("INSERT INTO hung_row (name) VALUES ('there')")
        built.wait_for_standby()
        yield built


def run_reader(root: Path, pair: PrivatePair, hang: float) -> list[tuple[float, float, str]]:
    """Reads for 1 s, the standby hung for ``hang`` s, then 1 s more; every read."""
    write_manage_py_project(root, CONFIG)
    (root / "rows").mkdir()
    (root / "rows" / "__init__.py").write_text("")
    (root / "rows" / "models.py").write_text(MODELS)
    (root / "reader.py").write_text(READER)
    env = {"PRIMARY_URL": pair.primary.url(), "STANDBY_URL": pair.standby.url()}
    app = subprocess.Popen(
        [sys.executable, "reader.py"],
        cwd=root,
        env=user_environment(env),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert app.stdin is not None
    assert app.stdout is not None
    try:
        assert app.stdout.readline().strip() == "started"
        time.sleep(1)
        with pair.standby.hung():
            time.sleep(hang)
        time.sleep(1)
        stdout, stderr = app.communicate("", timeout=120)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
    assert app.returncode == 0, stderr
    return [tuple(read) for read in json.loads(stdout.splitlines()[-1])]


def test_a_hung_replica_costs_a_read_about_connect_timeout_at_most(
    tmp_path: Path, pair: PrivatePair
) -> None:
    reads = run_reader(tmp_path, pair, HANG_SECONDS)
    slowest = max(seconds for _, seconds, _ in reads)
    errors = [served for _, _, served in reads if served.startswith("error")]
    by_alias = {alias: sum(1 for *_, s in reads if s == alias) for alias in ("default", "replica")}
    print(
        f"\nHUNG replica {HANG_SECONDS:.0f} s, 4 reader threads: {len(reads)} reads, "
        f"slowest {slowest:.2f} s, {len(errors)} failed, served {by_alias}"
    )
    assert not errors, errors[:3]
    assert slowest < CONNECT_TIMEOUT + 1.5, f"a read waited {slowest:.2f} s for the hung replica"
    assert by_alias["default"]
    assert by_alias["replica"]
