"""A throw-away tenant project (tests/tenants/project) with its databases in ``tmp_path``."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.spec_page import run_process, run_python, user_environment

ROOT = Path(__file__).resolve().parents[2]
SQLITE_TEMPLATE = "sqlite:///tenants/{tenant}.sqlite3"


@dataclass
class TenantProject:
    root: Path
    tenant_url: str
    default_url: str = "sqlite:///default.sqlite3"
    names: list[str] | None = None
    max_open: int | None = None
    resolver: str = "header"
    replica_urls: list[str] | None = None
    replica_max_lag_bytes: int | None = None
    recheck_seconds: float | None = None
    passwords: dict[str, str] | None = None
    test_url: str | None = None
    env_extra: dict[str, str] = field(default_factory=dict)
    """More environment variables of the project's processes."""

    @property
    def env(self) -> dict[str, str]:
        env = {
            "DJANGO_SETTINGS_MODULE": "tests.tenants.project.settings",
            "TENANT_TEST_DIR": str(self.root),
            "TENANT_TEST_DEFAULT_URL": self.default_url,
            "TENANT_TEST_URL": self.tenant_url,
            "TENANT_TEST_RESOLVER": self.resolver,
        }
        if self.names is not None:
            env["TENANT_TEST_NAMES"] = ",".join(self.names)
        if self.max_open is not None:
            env["TENANT_TEST_MAX_OPEN"] = str(self.max_open)
        if self.replica_urls:
            env["TENANT_TEST_REPLICA_URLS"] = " ".join(self.replica_urls)
        if self.replica_max_lag_bytes is not None:
            env["TENANT_TEST_REPLICA_MAX_LAG_BYTES"] = str(self.replica_max_lag_bytes)
        if self.recheck_seconds is not None:
            env["TENANT_TEST_RECHECK"] = str(self.recheck_seconds)
        if self.passwords is not None:
            env["TENANT_TEST_PASSWORDS"] = json.dumps(self.passwords)
        if self.test_url is not None:
            env["TENANT_TEST_TEST_URL"] = self.test_url
        return {**env, **self.env_extra}

    def manage(self, *args: str, check: bool = True, stdin: str | None = None) -> str:
        return run_python(
            "-m", "tests.tenants.project.run", "manage", *args,
            cwd=ROOT, env=self.env, check=check, stdin=stdin,
        )  # fmt: skip

    def status(self, *args: str) -> tuple[int, str]:
        """``manage.py ARGS``: its exit status and its output (stdout + stderr)."""
        run = run_process(
            [sys.executable, "-m", "tests.tenants.project.run", "manage", *args],
            cwd=ROOT,
            env=self.env,
        )
        return run.returncode, run.stdout + run.stderr

    def scenario(self, name: str, *args: str) -> dict[str, Any]:
        out = run_python("-m", "tests.tenants.project.run", name, *args, cwd=ROOT, env=self.env)
        result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return result

    def start(self, name: str, *args: str) -> subprocess.Popen[str]:
        """Scenario ``name`` in a process that runs beside the test (``finish`` reads it)."""
        return subprocess.Popen(
            [sys.executable, "-m", "tests.tenants.project.run", name, *args],
            cwd=ROOT,
            env=user_environment(self.env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    @staticmethod
    def finish(process: subprocess.Popen[str], timeout: float = 120) -> dict[str, Any]:
        out, err = process.communicate(timeout=timeout)
        assert process.returncode == 0, out + err
        result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return result

    def sqlite_rows(self, relative: str, sql: str) -> list[tuple[Any, ...]]:
        """``sql`` on the SQLite file ``relative`` to the project, read without Django."""
        path = self.root / relative
        assert path.exists(), f"{path} does not exist"
        with closing(sqlite3.connect(path)) as connection:
            return connection.execute(sql).fetchall()

    def sqlite_tables(self, relative: str) -> set[str]:
        rows = self.sqlite_rows(relative, "SELECT name FROM sqlite_master WHERE type='table'")
        return {name for (name,) in rows}


def sqlite_titles(project: TenantProject, name: str) -> list[str]:
    """The note titles in tenant ``name``'s SQLite file (template ``SQLITE_TEMPLATE``), sorted."""
    rows = project.sqlite_rows(f"tenants/{name}.sqlite3", "SELECT title FROM notes_note")
    return sorted(title for (title,) in rows)


def wait_for(path: Path, process: subprocess.Popen[str] | None = None, timeout: float = 60) -> None:
    """Wait until ``path`` exists (a scenario reached a point); fail if ``process`` ended."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process is not None and process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"the scenario ended before {path.name}: {out}{err}")
        assert time.monotonic() < deadline, f"{path.name} did not appear in {timeout}s"
        time.sleep(0.05)


def server_rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    """``sql`` on the PostgreSQL / MariaDB database of ``url``, with the bare driver."""
    from django_cfg import DatabaseConfig

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


def server_databases(url: str) -> set[str]:
    """The database names on the server of ``url`` (connecting to its maintenance database)."""
    from django_cfg import DatabaseConfig

    database = DatabaseConfig.from_url(url)
    if database.family == "postgresql":
        base, _, _name = url.partition("?")[0].rpartition("/")
        rows = server_rows(f"{base}/postgres", "SELECT datname FROM pg_database")
    else:
        base, _, rest = url.rpartition("/")
        query = rest.partition("?")[2]
        rows = server_rows(f"{base}/mysql" + (f"?{query}" if query else ""), "SHOW DATABASES")
    return {name for (name,) in rows}


def drop_server_database(url: str) -> None:
    """Drop the PostgreSQL / MariaDB database of ``url`` if it exists (test clean-up)."""
    from django_cfg import DatabaseConfig

    database = DatabaseConfig.from_url(url)
    if database.family == "postgresql":
        from tests.support.replica_tools import _connect

        with _connect(url) as connection:  # to the server's "postgres" database
            connection.execute(f'DROP DATABASE IF EXISTS "{database.name}" WITH (FORCE)')  # type: ignore[arg-type]
        return
    import MySQLdb

    connection = MySQLdb.connect(
        host=database.host, port=int(database.port or 3306), user=database.user
    )
    with closing(connection):
        connection.cursor().execute(f"DROP DATABASE IF EXISTS `{database.name}`")
