"""No test or benchmark stops the shared streaming replica (127.0.0.1:5433): other sessions read
from it, and a run killed while it was stopped left it down. An outage is a private standby's
(tests/support/standby_outage.py). Only tests/support/replica_tools.py names the shared
replica's files, and it can only start the replica (when a fresh machine or a crash left it
stopped).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REPLICA_TOOLS = ROOT / "tests" / "support" / "replica_tools.py"
SHARED_FILES = re.compile(
    r"\b(REPLICA_DATA|REPLICA_CONFIG|REPLICA_LOG|pg_ctlcluster)\b|/var/lib/postgresql"
)
"""How code reaches the shared servers' data directories (pg_ctl -D, pg_ctlcluster)."""


def test_only_replica_tools_names_the_shared_replicas_files() -> None:
    here = Path(__file__).resolve()
    named = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("tests", "benchmarks")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path not in {REPLICA_TOOLS, here}
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if SHARED_FILES.search(line)
    ]
    assert named == [], (
        f"{named} name the shared servers' files: stop, hang or promote a private standby "
        "instead (tests/support/private_standby.py, tests/support/private_cluster.py)"
    )


def test_replica_tools_only_starts_the_shared_replica() -> None:
    tree = ast.parse(REPLICA_TOOLS.read_text())
    words = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    assert {"start", "status"} <= words  # the pg_ctl actions it runs are seen here
    assert not words & {"stop", "restart", "promote", "kill"}, "replica_tools stops the replica"
