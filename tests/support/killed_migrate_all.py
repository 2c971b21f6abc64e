"""``manage.py migrate_all`` killed with SIGKILL in the middle of its migrations."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.spec_page import user_environment


def kill_migrate_all(
    cwd: Path, env: dict[str, str], rng: random.Random, migrations: int, max_pause: float
) -> int:
    """Start ``manage.py migrate_all --noinput -v 2`` in ``cwd`` (``env`` added to the user's
    environment) and SIGKILL it up to ``max_pause`` seconds after its k-th "Applying" line, k
    drawn from 1..``migrations`` (the migrations it would apply): the "Applying" lines seen
    (fewer than k if it finished first: the kill lands after the end)."""
    run = subprocess.Popen(
        [sys.executable, "manage.py", "migrate_all", "--noinput", "-v", "2"],
        cwd=cwd,
        env=user_environment({**env, "PYTHONUNBUFFERED": "1"}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert run.stdout is not None
    target, seen, output = rng.randint(1, migrations), 0, b""
    while seen < target:
        chunk = os.read(run.stdout.fileno(), 4096)
        if not chunk:
            break
        output += chunk
        seen = output.count(b"Applying ")
    time.sleep(rng.uniform(0, max_pause))
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=60)
    run.stdout.close()
    return seen
