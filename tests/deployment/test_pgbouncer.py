"""Through a real PgBouncer in transaction mode (scripts/services.sh: 127.0.0.1:6432, pool of 4
server connections per database), as production runs behind one; never skipped in CI.

``?pooler=transaction`` (settings/pooler.py) turns server-side cursors off and makes the
migration lock a transaction-level one; ``check`` warns about URLs that look pooled without it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.apps import apps
from django.db import connections

from django_cfg import DatabaseConfig
from django_cfg.runtime.server_locks import advisory_key
from django_cfg.schema.lock import LOCK_NAME
from tests.settings.test_checks import messages
from tests.support.example_project import ALIASES, ExampleProject
from tests.support.services import POSTGRES_URL, pgbouncer_release, through_pgbouncer

POOLED = "pooled"
"""The ``postgres`` test database through PgBouncer (tests/support/settings.py)."""


def person_model() -> Any:
    return apps.get_model("pg_people", "Person")


@pytest.fixture
def pooled(transactional_db: None) -> Iterator[str]:
    """The ``pooled`` alias; PgBouncer's server connections to the test database are closed
    after the test, or they would keep it from being dropped at the end of the run."""
    yield POOLED
    connections[POOLED].close()
    pgbouncer_release(connections[POOLED].settings_dict["NAME"])


@pytest.mark.usefixtures("pooled")
@pytest.mark.postgres
@pytest.mark.pgbouncer
@pytest.mark.django_db(transaction=True, databases=["default", "postgres", POOLED])
def test_django_reads_and_writes_through_pgbouncer() -> None:
    connection = connections[POOLED]
    assert connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] is True
    with connection.cursor() as cursor:
        cursor.execute("SHOW port")  # the server's own port: PgBouncer passed it through
        assert cursor.fetchone() == ("5432",)
    assert connection.settings_dict["PORT"] == "6432"
    Person = person_model()
    written = Person.objects.using(POOLED).create(name="through the pooler")
    with connections["postgres"].cursor() as cursor:  # the direct connection sees the row
        cursor.execute("SELECT name FROM pg_people_person WHERE id = %s", [written.pk])
        assert cursor.fetchone() == ("through the pooler",)
    assert Person.objects.using(POOLED).get(pk=written.pk).name == "through the pooler"


@pytest.mark.usefixtures("pooled")
@pytest.mark.postgres
@pytest.mark.pgbouncer
@pytest.mark.django_db(transaction=True, databases=["default", "postgres", POOLED])
def test_iterator_through_pgbouncer_under_8_threads() -> None:
    Person = person_model()
    Person.objects.using("postgres").bulk_create(Person(name=f"p{i:03}") for i in range(300))
    expected = list(Person.objects.using("postgres").order_by("pk").values_list("name", flat=True))
    results: dict[int, list[str] | BaseException] = {}

    def read(number: int) -> None:
        try:
            rows = Person.objects.using(POOLED).order_by("pk").values_list("name", flat=True)
            results[number] = [name for name in rows.iterator(chunk_size=7)]
        except BaseException as error:  # reported below, with the thread's number
            results[number] = error
        finally:
            connections.close_all()  # this thread's connections

    threads = [threading.Thread(target=read, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert {n: r for n, r in results.items() if not isinstance(r, list)} == {}
    assert [len(r) for r in results.values()] == [300] * 8
    assert all(r == expected for r in results.values())


# --- migrate_all: two concurrent runs through the pooler ----------------------------------------


def advisory_locks_held(databases: list[str]) -> list[tuple[Any, ...]]:
    """Rows of pg_locks for the migration lock in ``databases``, asked of the server itself."""
    server = DatabaseConfig.from_url(POSTGRES_URL)
    # pg_locks splits the bigint key into two oids
    key = advisory_key(LOCK_NAME) & 0xFFFF_FFFF_FFFF_FFFF
    with psycopg.connect(
        host=server.host, port=server.port, user=server.user, dbname="postgres", autocommit=True
    ) as connection:
        return connection.execute(
            "SELECT pid, granted FROM pg_locks WHERE locktype = 'advisory' "
            "AND classid = %s AND objid = %s "
            "AND database IN (SELECT oid FROM pg_database WHERE datname = ANY(%s))",
            [key >> 32, key & 0xFFFF_FFFF, databases],
        ).fetchall()


@pytest.mark.postgres
@pytest.mark.pgbouncer
@pytest.mark.parametrize("trial", range(3))
def test_two_concurrent_migrate_all_runs_through_pgbouncer_serialise(
    trial: int, tmp_path: Path, new_postgres_database: Any
) -> None:
    urls = {alias: through_pgbouncer(new_postgres_database()) for alias in ALIASES}
    project = ExampleProject.copy(tmp_path, urls)
    outputs = project.migrate_all_at_once(2, timeout=120)
    for alias in ALIASES:
        # One run migrated it; the other found it up to date once the lock was free.
        reports = [
            line
            for output in outputs
            for line in output.splitlines()
            if line.startswith(f"{alias}: ") and "waiting for another" not in line
        ]
        assert sorted("applied" in line for line in reports) == [False, True], outputs
        assert sum(f"{alias}: up to date" in line for line in reports) == 1, outputs
    assert advisory_locks_held([DatabaseConfig.from_url(url).name for url in urls.values()]) == []


# --- check: a URL that looks pooled without saying which mode ------------------------------------


def pooled_databases(url: str) -> dict[str, Any]:
    from django.conf import settings

    return {**settings.DATABASES, "through_pooler": DatabaseConfig.from_url(url).to_django()}


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app@127.0.0.1:6432/main",
        "postgresql://app@pgbouncer.internal:5432/main",
        "postgresql://app@db1:5432,PgBouncer-2:5432/main",
    ],
)
def test_check_warns_about_a_url_that_looks_pooled_without_the_pooler_option(url: str) -> None:
    with pytest.warns(UserWarning, match="DATABASES"):  # Django: overriding DATABASES
        found = messages(DATABASES=pooled_databases(url))
    assert list(found) == ["django_cfg.W060"]
    assert "'through_pooler'" in found["django_cfg.W060"]
    assert "?pooler=transaction" in found["django_cfg.W060"]


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app@127.0.0.1:6432/main?pooler=transaction",
        "postgresql://app@pgbouncer:6432/main?pooler=session",
        "postgresql://app@db:5432/main",
    ],
)
def test_check_is_quiet_when_the_mode_is_set_or_nothing_looks_pooled(url: str) -> None:
    with pytest.warns(UserWarning, match="DATABASES"):
        assert messages(DATABASES=pooled_databases(url)) == {}


def test_pooler_transaction_turns_server_side_cursors_off_and_is_checked() -> None:
    settings = DatabaseConfig.from_url(
        "postgresql://app@pgbouncer:6432/main?pooler=transaction"
    ).to_django()
    assert settings["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert settings["POOLER"] == "transaction"
    session = DatabaseConfig.from_url("postgresql://app@pgbouncer:6432/main?pooler=session")
    assert "DISABLE_SERVER_SIDE_CURSORS" not in session.to_django()
    with pytest.raises(ValueError, match="needs server-side cursors off"):
        DatabaseConfig.from_url(
            "postgresql://app@h/main?pooler=transaction&disable_server_side_cursors=false"
        )
    with pytest.raises(ValueError, match="for PostgreSQL poolers"):
        DatabaseConfig.from_url("mysql://app@h/main?pooler=transaction")
    with pytest.raises(ValueError, match="must be one of session, transaction"):
        DatabaseConfig.from_url("postgresql://app@h/main?pooler=statement")
