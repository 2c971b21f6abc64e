"""scripts/pidfile.sh: the service scripts trust a pid file only while its pid is still that server.

A restored or rebooted machine keeps its pid files (the replica's postmaster.pid, PgBouncer's and
etcd's) but not their processes; the pids they name can belong to other programs. CI once failed
because the replica would not start over such a file.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

Sleeper = tuple[subprocess.Popen[bytes], Path]
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "pidfile.sh"


def run(function: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f'source "{SCRIPT}"; {function} "$@"', "bash", *arguments],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[Sleeper]:
    """A live `sleep 300` process, and a pid file that names it."""
    process = subprocess.Popen(["sleep", "300"])
    pidfile = tmp_path / "sleep.pid"
    pidfile.write_text(f"{process.pid}\n/some/data/dir\n")
    yield process, pidfile
    process.kill()
    process.wait()


def test_live_pid_names_the_process_while_it_is_that_program(
    sleeper: Sleeper,
) -> None:
    process, pidfile = sleeper
    answer = run("live_pid", str(pidfile), "sleep", "300")
    assert (answer.returncode, answer.stdout.strip()) == (0, str(process.pid))


@pytest.mark.parametrize(
    ("name", "word"),
    [("postgres", "300"), ("sleep", "/srv/example/replica-data")],
    ids=["another-program", "same-program-other-command-line"],
)
def test_live_pid_refuses_a_pid_that_is_now_someone_else(
    sleeper: Sleeper, name: str, word: str
) -> None:
    _, pidfile = sleeper
    answer = run("live_pid", str(pidfile), name, word)
    assert (answer.returncode, answer.stdout) == (1, "")


def test_drop_stale_pidfile_removes_a_file_whose_pid_is_alive_but_not_the_server(
    sleeper: Sleeper,
) -> None:
    process, pidfile = sleeper
    answer = run("drop_stale_pidfile", str(pidfile), "postgres", "/srv/example/replica-data")
    assert answer.returncode == 0
    assert not pidfile.exists()
    assert f"pid {process.pid}, which it names, is no longer that postgres" in answer.stdout
    assert process.poll() is None, "the process the stale file named was signalled"


def test_drop_stale_pidfile_keeps_the_file_of_a_running_server(
    sleeper: Sleeper, tmp_path: Path
) -> None:
    _, pidfile = sleeper
    assert run("drop_stale_pidfile", str(pidfile), "sleep", "300").stdout == ""
    assert pidfile.exists()
    gone = tmp_path / "gone.pid"
    code = "import os; print(os.getpid())"
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    gone.write_text(finished.stdout)
    assert run("drop_stale_pidfile", str(gone), "python3", "-c").returncode == 0
    assert not gone.exists()
