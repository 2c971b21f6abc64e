"""SQLite databases start their transactions IMMEDIATE: concurrent writers wait, never deadlock.

With SQLite's default (DEFERRED) transactions, ``atomic()`` that reads and then writes holds a
read lock it must upgrade; two of them deadlock and SQLite answers "database is locked" at
once, whatever the timeout. ``BEGIN IMMEDIATE`` takes the write lock at the start of the block,
so writers queue instead. The load runs in its own process (tests/support/sqlite_load.py), with
settings built by ``DatabaseConfig`` from a URL exactly as a project's are.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from django_cfg import DatabaseConfig

ROOT = Path(__file__).resolve().parents[2]
THREADS = 8
PER_THREAD = 200  # 1,600 operations: about 15 s on a disk, 4 s on a tmpfs


def test_sqlite_defaults_to_immediate_transactions_and_it_can_be_overridden() -> None:
    options = DatabaseConfig.from_url("sqlite:///db/app.sqlite3").to_django()["OPTIONS"]
    assert options == {"transaction_mode": "IMMEDIATE", "timeout": 20.0}
    waiting = DatabaseConfig.from_url("sqlite:///app.sqlite3?timeout=2.5").to_django()
    assert waiting["OPTIONS"]["timeout"] == 2.5
    assert DatabaseConfig.from_url("sqlite://").to_django()["OPTIONS"]["transaction_mode"] == (
        "IMMEDIATE"
    )
    deferred = DatabaseConfig.from_url("sqlite:///app.sqlite3?transaction_mode=deferred")
    assert deferred.to_django()["OPTIONS"]["transaction_mode"] == "DEFERRED"
    unset = DatabaseConfig.from_url("sqlite:///app.sqlite3", options={"transaction_mode": None})
    assert unset.to_django()["OPTIONS"]["transaction_mode"] is None  # Django's own default
    # A read-only SQLite database takes no write lock; other engines have no such option.
    read_only = DatabaseConfig.from_url("sqlite:///app.sqlite3", read_only=True).to_django()
    assert "transaction_mode" not in read_only["OPTIONS"]
    assert read_only["OPTIONS"]["timeout"] == 20.0
    postgres = DatabaseConfig.from_url("postgresql://u@h/db").to_django()
    assert "transaction_mode" not in postgres["OPTIONS"]
    assert "timeout" not in postgres["OPTIONS"]


def run_load(url: str, per_thread: int = PER_THREAD) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.sqlite_load", url, str(THREADS), str(per_thread)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture
def tmpfs_folder(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs folder when there is one (commits without fsync: fast), else ``tmp_path``."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        # Unique per run: pytest processes at once (lanes, other checkouts) share /dev/shm.
        folder = Path(tempfile.mkdtemp(prefix="django_cfg_", dir=shm))
        yield folder
        shutil.rmtree(folder, ignore_errors=True)
    else:
        yield tmp_path


def test_eight_threads_of_atomic_and_get_or_create_never_see_database_is_locked(
    tmp_path: Path,
) -> None:
    """A file on disk (commits wait for fsync, as in production), the package's defaults."""
    result = run_load(f"sqlite:///{tmp_path}/load.sqlite3")
    assert result == {"operations": THREADS * PER_THREAD, "locked": 0, "other_errors": {}}


def test_the_same_load_with_deferred_transactions_does_lock(tmpfs_folder: Path) -> None:
    """The load is one that fails without the default (11,179 of 24,000 when measured)."""
    result = run_load(f"sqlite:///{tmpfs_folder}/load.sqlite3?transaction_mode=DEFERRED", 100)
    assert result["operations"] == THREADS * 100
    assert isinstance(result["locked"], int)
    assert result["locked"] > 0
