"""A test needing a missing server fails the run under CI=true, and is loudly left out elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLOSED_PORT_URL = "mysql://root@127.0.0.1:9/django_cfg"  # the discard port: nothing listens


def run_mariadb_tests(ci: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CI": ci, "DJANGO_CFG_TEST_MARIADB_URL": CLOSED_PORT_URL}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/settings/test_real_databases.py",
            "-k",
            "mariadb",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_missing_server_fails_the_run_in_ci() -> None:
    run = run_mariadb_tests(ci="true")
    assert run.returncode != 0
    assert "CI=true and a service is missing: mysql://root@127.0.0.1:9/django_cfg" in run.stdout


def test_missing_server_is_reported_loudly_outside_ci() -> None:
    run = run_mariadb_tests(ci="")
    assert (
        "NOT RUN (service missing, allowed outside CI only): mysql://root@127.0.0.1:9" in run.stdout
    )
    assert run.returncode == 5  # pytest's "no tests ran": both MariaDB tests were left out
