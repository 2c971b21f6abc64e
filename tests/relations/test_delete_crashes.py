"""kill -9 during cross-database deletes, on SQLite files, PostgreSQL and MariaDB.

Each engine gets two fresh databases (people on one, posts on the other) and a driver process
(tests/support/delete_crash_driver.py) that kills ``person.delete()`` with SIGKILL at
instrumented points (the points around each COMMIT first) and after random delays, runs
``repair_relations`` after each kill, and reports every state it saw. Bounded by rounds, not time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROUNDS = 27  # 18 at instrumented points (each point once), 9 after random delays
POSTS = 200
ROOT = Path(__file__).resolve().parents[2]


def drive(people: str, posts: str, tmp_path: Path, *extra: str) -> dict[str, Any]:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.delete_crash_driver",
            "--people",
            people,
            "--posts-url",
            posts,
            "--dir",
            str(tmp_path),
            "--posts",
            str(POSTS),
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def sqlite_pair(tmp_path: Path) -> tuple[str, str]:
    return f"sqlite:///{tmp_path}/people.sqlite3", f"sqlite:///{tmp_path}/posts.sqlite3"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", id="mariadb", marks=pytest.mark.mariadb),
    ]
)
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    if request.param == "sqlite":
        return sqlite_pair(tmp_path)
    create: Callable[[], str] = request.getfixturevalue(f"new_{request.param}_database")
    return create(), create()


def test_no_kill_leaves_a_half_done_delete_undetected_or_unrepaired(
    databases: tuple[str, str], tmp_path: Path
) -> None:
    report = drive(*databases, tmp_path, "--rounds", str(ROUNDS), "--seed", "10", "--race", "2")
    crashes = report["crashes"]
    assert crashes["rounds"] == ROUNDS
    assert crashes["kill_points"] >= 15  # statements and commits of both databases
    assert crashes["killed"] >= ROUNDS * 2 // 3  # every instrumented round, some timed ones
    # The rounds reach the window between the two commits, where the databases part ways...
    assert crashes["states"].get("half done", 0) >= 1, crashes
    # ...and every state a kill leaves there is detected, and repaired to a consistent one.
    assert crashes["undetected_half_done"] == 0, crashes
    assert crashes["repair_failures"] == [], crashes
    assert "damaged bystander" not in crashes["states"]

    # The insert race: a post inserted for a person being deleted ends as an orphan, which
    # repair_relations --dry-run lists and the repair deletes (with its comment).
    assert report["race"] == {"trials": 2, "orphans": 2, "listed": 2, "repaired": 2}


def test_without_the_intents_the_same_kills_leave_damage_nothing_detects(tmp_path: Path) -> None:
    """The control: the rounds above can fail. With the protocol switched off in the driver,
    the kills between the two commits leave a person alive with their posts gone, which no
    check can tell from a person who never had posts."""
    report = drive(*sqlite_pair(tmp_path), tmp_path, "--rounds", "4", "--without-intents")
    assert report["crashes"]["undetected_half_done"] >= 1
