"""A throw-away tenant project (tests/tenants/project) with its databases in ``tmp_path``.

Scenarios run in it are functions of the test modules (or of tests/tenants/project/scenarios.py
when several test modules share them): ``project.scenario(routing, "acme", "beta")`` runs
``routing(["acme", "beta"])`` in a process of the project and returns the JSON it returns.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.support.services import POSTGRES_URL, sibling_url
from tests.support.subprocess_project import SubprocessProject, server_rows, wait_for
from tests.tenants.project.scenarios import held_move, seed

ROOT = Path(__file__).resolve().parents[2]
SQLITE_TEMPLATE = "sqlite:///tenants/{tenant}.sqlite3"
MOVED_URL = "sqlite:///moved/acme.sqlite3"
RUN = ("-m", "tests.tenants.project.run")

Scenario = Callable[[list[str]], dict[str, Any]]
"""A function run in the project's process: it gets the arguments, returns JSON-able data."""


@dataclass
class TenantProject(SubprocessProject):
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
    extra_env: dict[str, str] = field(default_factory=dict)
    """More environment variables of the project's processes."""

    MANAGE: ClassVar[tuple[str, ...]] = (*RUN, "manage")

    @property
    def cwd(self) -> Path:
        return ROOT

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
        return {**env, **self.extra_env}

    def scenario(self, function: Scenario | str, *args: str) -> dict[str, Any]:
        """``function([ARGS])`` run in a process of the project: what it returned."""
        out = self.python(*RUN, scenario_path(function), *args)
        result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return result

    def start(self, function: Scenario | str, *args: str) -> subprocess.Popen[str]:
        """``scenario`` in a process that runs beside the test (``finish`` reads it)."""
        return self.popen(*RUN, scenario_path(function), *args)

    @staticmethod
    def finish(process: subprocess.Popen[str], timeout: float = 120) -> dict[str, Any]:
        out, err = process.communicate(timeout=timeout)
        assert process.returncode == 0, out + err
        result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return result

    def sqlite_tables(self, relative: str) -> set[str]:
        rows = self.sqlite_rows(relative, "SELECT name FROM sqlite_master WHERE type='table'")
        return {name for (name,) in rows}


def scenario_path(function: Scenario | str) -> str:
    """``module:function``, as tests/tenants/project/run.py finds ``function`` again (given as
    is for a scenario whose module the test process cannot import: it imports models)."""
    if isinstance(function, str):
        return function
    assert "." not in function.__qualname__, f"{function.__qualname__}: a module-level function"
    return f"{function.__module__}:{function.__qualname__}"


ENGINES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", marks=pytest.mark.postgres, id="postgresql"),
]
"""The engines of ``engine_project``: ``@pytest.fixture(params=ENGINES)``."""


@contextmanager
def engine_project(
    root: Path, engine: str, dropped: tuple[str, ...], **options: Any
) -> Iterator[TenantProject]:
    """A migrated tenant project whose tenants live in SQLite files or in PostgreSQL databases
    of a prefix of their own; on PostgreSQL the tenants ``dropped`` (and their databases) are
    dropped afterwards."""
    template = (
        SQLITE_TEMPLATE
        if engine == "sqlite"
        else sibling_url(POSTGRES_URL, f"_{secrets.token_hex(3)}_{{tenant}}")
    )
    project = TenantProject(root, template, **options)
    project.manage("migrate_all", "--verbosity", "0")
    try:
        yield project
    finally:
        if engine != "sqlite":
            for name in dropped:
                project.manage("drop_tenant", name, "--drop-database", "--noinput", check=False)


def seeded_acme(root: Path, *others: str) -> TenantProject:
    """Tenants acme and ``others`` in the tenants table on SQLite files (recheck_seconds 0.5),
    acme with tags and notes (a gap in the keys: scenario ``seed``)."""
    project = TenantProject(root, SQLITE_TEMPLATE, recheck_seconds=0.5)
    project.manage("migrate_all", "--verbosity", "0")
    for name in ("acme", *others):
        project.manage("create_tenant", name)
    project.scenario(seed, "acme")
    return project


def start_held_move(
    project: TenantProject, folder: Path, point: str = "copy", url: str = MOVED_URL
) -> subprocess.Popen[str]:
    """``move_tenant acme --url URL`` in a process of its own (scenario ``held_move``), once it
    holds at POINT ("copy": before its copy, "verify": after it); FOLDER/release lets it go on,
    ``project.finish`` reads its outcome."""
    folder.mkdir(exist_ok=True)
    mover = project.start(held_move, "acme", url, str(folder), point)
    try:
        wait_for(folder / "held", mover)
    except BaseException:
        (folder / "release").touch()
        raise
    return mover


def sqlite_titles(project: TenantProject, name: str) -> list[str]:
    """The note titles in tenant ``name``'s SQLite file (template ``SQLITE_TEMPLATE``), sorted."""
    rows = project.sqlite_rows(f"tenants/{name}.sqlite3", "SELECT title FROM notes_note")
    return sorted(title for (title,) in rows)


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


def create_server_database(url: str) -> None:
    """Create the PostgreSQL database of ``url``, empty."""
    from django_cfg import DatabaseConfig
    from tests.support.replica_tools import _connect

    with _connect(url) as connection:  # to the server's "postgres" database
        connection.execute(f'CREATE DATABASE "{DatabaseConfig.from_url(url).name}"')  # type: ignore[arg-type]


@contextmanager
def postgres_tenant_databases(
    tag: str, names: list[str], options: str = ""
) -> Iterator[tuple[str, str]]:
    """Empty PostgreSQL databases for the tenants ``names`` beside the test database, named
    with ``tag`` and a random prefix, dropped after the block: the tenant template (``options``
    added to its query, e.g. ``pool_max_size=2``) and the databases' common name prefix."""
    prefix = f"_{tag}{secrets.token_hex(3)}"
    base, _, query = sibling_url(POSTGRES_URL, f"{prefix}_{{tenant}}").partition("?")
    query = "&".join(part for part in (query, options) if part)
    template = f"{base}?{query}" if query else base
    urls = [template.replace("{tenant}", name) for name in names]
    database = POSTGRES_URL.partition("?")[0].rpartition("/")[2]
    try:
        for url in urls:
            create_server_database(url)
        yield template, f"{database}{prefix}_"
    finally:
        for url in urls:
            drop_server_database(url)


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
