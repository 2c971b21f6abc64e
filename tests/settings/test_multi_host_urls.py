"""libpq multi-host URLs (Patroni, RDS/Aurora endpoints): ``h1:5432,h2:5433`` with
``target_session_attrs`` and ``load_balance_hosts``, parsed into what psycopg expects and
connected for real to the primary (5432) and its streaming replica (5433)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.utils import load_backend

from django_cfg import DatabaseConfig
from django_cfg.settings.url import DatabaseURLError
from tests.support.services import POSTGRES_URL, REPLICA_URL

SECRET = "hunter2secret"


def test_a_host_list_becomes_libpq_host_and_port_lists_with_its_session_options() -> None:
    database = DatabaseConfig.from_url(
        f"postgresql://app:{SECRET}@h1:5432,h2:5433/db"
        "?target_session_attrs=read-write&load_balance_hosts=random"
    )
    settings = database.to_django()
    assert (settings["HOST"], settings["PORT"]) == ("h1,h2", "5432,5433")
    assert settings["OPTIONS"] == {
        "target_session_attrs": "read-write",
        "load_balance_hosts": "random",
        "connect_timeout": 5,  # a primary's default, per host (docs/deployment.md)
    }
    assert database.servers == [("h1", 5432), ("h2", 5433)]
    assert database.redacted_url == "postgresql://app:***@h1:5432,h2:5433/db"
    assert SECRET not in repr(database) + str(database)


@pytest.mark.parametrize(
    ("url", "host", "port", "servers"),
    [
        ("postgresql://app@h1:6432,h2:6432/db", "h1,h2", "6432", [("h1", 6432), ("h2", 6432)]),
        ("postgresql://app@h1,h2/db", "h1,h2", "", [("h1", None), ("h2", None)]),
        ("postgresql://app@h1,h2:5433/db", "h1,h2", ",5433", [("h1", None), ("h2", 5433)]),
        (
            "postgresql://app@[::1]:5432,h2:5433/db",
            "::1,h2",
            "5432,5433",
            [("::1", 5432), ("h2", 5433)],
        ),
        ("postgresql://app@/db?host=h1,h2&port=1,2", "h1,h2", "1,2", [("h1", 1), ("h2", 2)]),
    ],
)
def test_host_lists_as_libpq_reads_them(url: str, host: str, port: str, servers: Any) -> None:
    database = DatabaseConfig.from_url(url)
    assert (database.to_django()["HOST"], database.to_django()["PORT"]) == (host, port)
    assert database.servers == servers


def test_a_replica_may_name_several_hosts_and_keeps_its_connect_timeout() -> None:
    replica = DatabaseConfig.from_url(
        "postgresql://app@r1:5432,r2:5432/db?target_session_attrs=standby", replica_of="default"
    )
    settings = replica.to_django()
    assert settings["HOST"] == "r1,r2"
    assert settings["ENGINE"] == "django_cfg.backends.replica_postgresql"
    assert settings["OPTIONS"] == {"target_session_attrs": "standby", "connect_timeout": 2}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"mysql://app:{SECRET}@h1,h2/db", "several hosts separated by ',' are a PostgreSQL"),
        (f"postgresql://app:{SECRET}@h1:5432,:5433/db", "server 2 of the host list has no host"),
        (f"postgresql://app:{SECRET}@h1,h2:5x/db", "not a number (ASCII digits 0-9)"),
        (f"postgresql://app:{SECRET}@h1,h2/db?port=1,2,3", "2 hosts but 3 ports"),
        (f"postgresql://app:{SECRET}@/db?host=h&port=1,70000", "'port' must be ports (1-65535)"),
        (f"postgresql://app:{SECRET}@h1,h2/db?load_balance_hosts=on", "one of disable, random"),
    ],
)
def test_a_bad_host_list_is_named_and_the_password_is_not(url: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        DatabaseConfig.from_url(url)
    assert message in str(raised.value)
    assert SECRET not in str(raised.value) + repr(raised.value)


def test_a_port_list_given_as_a_field_is_validated_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="must be ports") as raised:
        DatabaseConfig(engine="django.db.backends.postgresql", name="x", port=f"1,{SECRET}")
    assert SECRET not in str(raised.value)
    assert (
        DatabaseConfig(engine="django.db.backends.postgresql", name="x", port="5432").port == 5432
    )


# --- for real: the primary (5432) and its streaming replica (5433) in one URL -------------------


def two_host_url(target_session_attrs: str) -> str:
    primary, replica = DatabaseConfig.from_url(POSTGRES_URL), DatabaseConfig.from_url(REPLICA_URL)
    return (
        f"postgresql://{primary.user}@{primary.host}:{primary.port},{replica.host}:{replica.port}"
        f"/postgres?target_session_attrs={target_session_attrs}&connect_timeout=5"
    )


@pytest.fixture(autouse=True)
def _connections_allowed(django_db_blocker: Any) -> Any:
    with django_db_blocker.unblock():  # own connections, to no test database
        yield


def landed_on(url: str, **fields: Any) -> tuple[bool, int]:
    """(in recovery, server port) of the server a Django connection to ``url`` lands on."""
    settings = DatabaseConfig.from_url(url, **fields).to_django()
    wrapper = load_backend(settings["ENGINE"]).DatabaseWrapper(settings, "two_hosts")
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT pg_is_in_recovery(), inet_server_port()")
            in_recovery, port = cursor.fetchone()
            return in_recovery, port
    finally:
        wrapper.close()


@pytest.mark.postgres
@pytest.mark.replica
@pytest.mark.parametrize(
    ("target_session_attrs", "in_recovery"),
    [
        ("read-write", False),
        ("primary", False),
        ("prefer-standby", True),
        ("read-only", True),
        ("standby", True),
    ],
)
def test_a_two_host_url_lands_on_the_server_of_the_asked_role(
    target_session_attrs: str, in_recovery: bool
) -> None:
    replica_port = DatabaseConfig.from_url(REPLICA_URL).port
    primary_port = DatabaseConfig.from_url(POSTGRES_URL).port
    expected = (in_recovery, replica_port if in_recovery else primary_port)
    assert landed_on(two_host_url(target_session_attrs)) == expected
    # The order of the hosts does not decide it: the role does.
    primary, replica = DatabaseConfig.from_url(POSTGRES_URL), DatabaseConfig.from_url(REPLICA_URL)
    reversed_url = (
        f"postgresql://{primary.user}@{replica.host}:{replica.port},{primary.host}:{primary.port}"
        f"/postgres?target_session_attrs={target_session_attrs}&connect_timeout=5"
    )
    assert landed_on(reversed_url) == expected


@pytest.mark.postgres
@pytest.mark.replica
def test_a_replica_alias_with_a_host_list_connects_through_the_failover_backend() -> None:
    url = two_host_url("standby")
    settings = DatabaseConfig.from_url(url, replica_of="postgres").to_django()
    assert settings["ENGINE"] == "django_cfg.backends.replica_postgresql"
    replica_port = DatabaseConfig.from_url(REPLICA_URL).port
    assert landed_on(url, replica_of="postgres") == (True, replica_port)


@pytest.mark.postgres
def test_a_dead_first_host_is_skipped() -> None:
    primary = DatabaseConfig.from_url(POSTGRES_URL)
    url = f"postgresql://{primary.user}@127.0.0.1:1,{primary.host}:{primary.port}/postgres"
    assert landed_on(url) == (False, primary.port)


def test_errors_of_a_multi_host_url_are_database_url_errors() -> None:
    with pytest.raises(DatabaseURLError):
        DatabaseConfig.from_url("mysql://app@h1,h2/db")
