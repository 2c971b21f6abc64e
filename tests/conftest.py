"""Service-backed tests: they run in CI (a missing server fails the run), skip loudly elsewhere."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from django_cfg import DatabaseConfig
from tests.support.browser import browser_missing
from tests.support.lanes import in_this_lane
from tests.support.patroni import patroni_missing
from tests.support.replica_tools import wait_for_replica
from tests.support.services import IN_CI, MARIADB_URL, POSTGRES_URL, SERVICES, unreachable

_left_out: list[str] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items[:], other_lanes = in_this_lane(items)
    if other_lanes:
        config.hook.pytest_deselected(items=other_lanes)
    kept, dropped = [], []
    for item in items:
        reasons = [unreachable(m) for m in SERVICES if item.get_closest_marker(m)]
        if item.get_closest_marker("browser"):
            reasons.append(browser_missing())
        if item.get_closest_marker("patroni"):
            reasons.append(patroni_missing())
        reasons = [reason for reason in reasons if reason]
        if not reasons:
            kept.append(item)
        elif IN_CI:
            pytest.exit(f"CI=true and a service is missing: {reasons[0]}", returncode=1)
        else:
            dropped.append(item)
            _left_out.extend(reason for reason in reasons if reason not in _left_out)
    if dropped:
        # Deselected, not skipped: pytest-django would still try to create their databases.
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for reason in _left_out:
        terminalreporter.write_line(
            f"NOT RUN (service missing, allowed outside CI only): {reason}", red=True, bold=True
        )


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None) -> None:
    """pytest-django's, then the shared replica caught up with the primary: the test databases
    just created there reach the standby through WAL, and a test whose first read goes to the
    replica would otherwise find no database ("test_django_cfg" does not exist)."""
    if unreachable("replica") is None and unreachable("postgres") is None:
        wait_for_replica(timeout=120)


@pytest.fixture
def new_postgres_database() -> Iterator[Callable[[], str]]:
    """Creates empty PostgreSQL databases (a URL each), dropped after the test."""
    import psycopg

    server = DatabaseConfig.from_url(POSTGRES_URL)
    admin = f"host={server.host} port={server.port} user={server.user} dbname=postgres"
    created: list[str] = []

    def create() -> str:
        name = f"django_cfg_scratch_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return f"postgresql://{server.user}@{server.host}:{server.port}/{name}"

    yield create
    with psycopg.connect(admin, autocommit=True) as connection:
        for name in created:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def scratch_postgres(new_postgres_database: Callable[[], str]) -> str:
    return new_postgres_database()


@pytest.fixture
def new_mariadb_database() -> Iterator[Callable[[], str]]:
    """Creates empty MariaDB databases (a URL each), dropped after the test."""
    import MySQLdb

    server = DatabaseConfig.from_url(MARIADB_URL)
    connection = MySQLdb.connect(host=server.host, port=server.port or 3306, user=server.user)
    created: list[str] = []

    def create() -> str:
        name = f"django_cfg_scratch_{uuid.uuid4().hex[:8]}"
        connection.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        created.append(name)
        return f"mysql://{server.user}@{server.host}:{server.port}/{name}?charset=utf8mb4"

    try:
        yield create
        for name in created:
            connection.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        connection.close()


@pytest.fixture
def scratch_mariadb(new_mariadb_database: Callable[[], str]) -> str:
    return new_mariadb_database()
