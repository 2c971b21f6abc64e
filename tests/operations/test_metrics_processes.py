"""-/metrics served by a real ``manage.py runserver`` in prometheus-client's multiprocess mode:
two worker processes count their writes into one PROMETHEUS_MULTIPROC_DIR, and one scrape of
the server (a third process) sees both (issue 21, point 1)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.support.manage_py_project import (
    DJANGO_CFG_URLS,
    SCRIPT_SETUP,
    unmanaged_model,
    write_manage_py_project,
)
from tests.support.private_postgres import free_port
from tests.support.spec_page import user_environment

CONFIG = """\
    from pathlib import Path
    from django_cfg import DatabaseConfig, DjangoConfig

    HERE = Path(__file__).parents[1]

    class MetricsConfig(DjangoConfig):
        project_apps: list[str] = ["writes"]
        root_urlconf: str | None = "api.urls"
        databases: dict[str, DatabaseConfig] = {
            "default": DatabaseConfig.from_url(f"sqlite:///{HERE / 'db.sqlite3'}"),
            # a second database: the package's router is installed, and counts what it routes
            "archive": DatabaseConfig.from_url(f"sqlite:///{HERE / 'archive.sqlite3'}"),
        }

    config = MetricsConfig()
    """

MODELS = unmanaged_model("Write", "metrics_write", "seq = models.IntegerField()")

WORKER = (
    SCRIPT_SETUP
    + """\
# python worker.py N: N "requests", each one write, between Django's request signals (a
# gunicorn worker's request cycle: request_finished is where the counts are flushed).
import sys

from django.core.signals import request_finished, request_started
from writes.models import Write

for seq in range(int(sys.argv[1])):
    request_started.send(sender=None)
    Write.objects.create(seq=seq)
    request_finished.send(sender=None)
"""
)


def write_project(root: Path) -> None:
    write_manage_py_project(
        root,
        CONFIG,
        apps={"writes": MODELS},
        files={"api/urls.py": DJANGO_CFG_URLS, "worker.py": WORKER},
    )
    with sqlite3.connect(root / "db.sqlite3") as db:
        db.execute("CREATE TABLE metrics_write (id integer PRIMARY KEY, seq integer)")


def get(url: str, seconds: float = 20) -> str:
    """The body of ``url``, retried until the server listens (``seconds`` at most)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return str(answer.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_one_scrape_sees_the_writes_of_two_worker_processes(tmp_path: Path) -> None:
    write_project(tmp_path)
    shared = tmp_path / "prometheus"
    shared.mkdir()
    environment = user_environment({"PROMETHEUS_MULTIPROC_DIR": str(shared)})
    for writes in (5, 7):
        subprocess.run(
            [sys.executable, "worker.py", str(writes)],
            cwd=tmp_path,
            env=environment,
            check=True,
            timeout=60,
        )
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        text = get(f"http://127.0.0.1:{port}/-/metrics")
        ready = get(f"http://127.0.0.1:{port}/-/readyz")
    finally:
        server.terminate()
        server.wait(10)
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert samples[("django_cfg_writes_total", (("alias", "default"),))] == 12
    assert samples[("django_cfg_query_duration_seconds_count", (("alias", "default"),))] >= 12
    assert samples[("django_cfg_database_up", (("alias", "default"),))] == 1
    assert '"status": "ok"' in ready
