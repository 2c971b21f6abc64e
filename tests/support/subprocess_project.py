"""A project folder whose commands run in subprocesses, with an environment of its own.

Subclasses say which variables the project reads (``env``), where its commands run (``cwd``)
and how its ``manage.py`` is spelled (``MANAGE``): tests/support/example_project.py (a copy
of examples/saas) and tests/tenants/project_support.py (tests/tenants/project).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from django_cfg import DatabaseConfig
from tests.support.spec_page import run_process, run_python, user_environment


@dataclass
class SubprocessProject:
    root: Path

    MANAGE: ClassVar[tuple[str, ...]] = ("manage.py",)
    """The arguments of ``python`` that are the project's ``manage.py``."""

    @property
    def env(self) -> dict[str, str]:
        """The variables the project reads (added to the user's environment)."""
        raise NotImplementedError

    @property
    def cwd(self) -> Path:
        return self.root

    def python(self, *args: str, check: bool = True, stdin: str | None = None) -> str:
        """``python ARGS``: its stdout (with ``check``, a non-zero exit fails the test)."""
        return run_python(*args, cwd=self.cwd, env=self.env, check=check, stdin=stdin)

    def manage(self, *args: str, check: bool = True, stdin: str | None = None) -> str:
        return self.python(*self.MANAGE, *args, check=check, stdin=stdin)

    def status(self, *args: str) -> tuple[int, str]:
        """``manage.py ARGS``: its exit status and its output (stdout + stderr)."""
        run = run_process([sys.executable, *self.MANAGE, *args], cwd=self.cwd, env=self.env)
        return run.returncode, run.stdout + run.stderr

    def popen(self, *args: str, merge_stderr: bool = False) -> subprocess.Popen[str]:
        """``python ARGS`` in a process that runs beside the test (stderr into stdout if
        ``merge_stderr``)."""
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=self.cwd,
            env=user_environment(self.env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
            text=True,
        )

    def sqlite_rows(
        self, relative: str, sql: str, must_exist: bool = True
    ) -> list[tuple[Any, ...]]:
        """``sql`` on the SQLite file ``relative`` to the project, read without Django (if not
        ``must_exist``, a missing file is created empty, as ``sqlite3.connect`` does)."""
        path = self.root / relative
        assert path.exists() or not must_exist, f"{path} does not exist"
        with closing(sqlite3.connect(path)) as connection:
            return connection.execute(sql).fetchall()


def server_rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    """``sql`` on the PostgreSQL / MariaDB database of ``url``, with the bare driver."""
    database = DatabaseConfig.from_url(url)
    password = database.password.get_secret_value() if database.password else None
    if database.family == "postgresql":
        import psycopg

        with psycopg.connect(
            host=database.host,
            port=database.port,
            user=database.user,
            password=password,
            dbname=database.name,
        ) as connection:
            return connection.execute(sql).fetchall()  # type: ignore[arg-type]
    import MySQLdb

    connection = MySQLdb.connect(
        host=database.host,
        port=int(database.port or 3306),
        user=database.user,
        password=password or "",
        database=database.name,
    )
    with closing(connection):
        cursor = connection.cursor()
        cursor.execute(sql)
        return list(cursor.fetchall())


def wait_for(path: Path, process: subprocess.Popen[str] | None = None, timeout: float = 60) -> None:
    """Wait until ``path`` exists (a process reached a point); fail if ``process`` ended."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process is not None and process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"the process ended before {path.name}: {out}{err}")
        assert time.monotonic() < deadline, f"{path.name} did not appear in {timeout}s"
        time.sleep(0.02)
