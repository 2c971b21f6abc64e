"""DatabaseConfig.from_url: every URL form, every rejection, and the password never echoed."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from django_cfg import DatabaseConfig, register_scheme
from django_cfg.settings.url import ENGINES

PG = "django.db.backends.postgresql"
MYSQL = "django.db.backends.mysql"
SQLITE = "django.db.backends.sqlite3"

GOOD_URLS: list[tuple[str, dict[str, Any]]] = [
    (
        "postgresql://user:pass@db.example.com:5432/mydb",
        {
            "ENGINE": PG,
            "NAME": "mydb",
            "USER": "user",
            "PASSWORD": "pass",
            "HOST": "db.example.com",
            "PORT": "5432",
            "OPTIONS": {"connect_timeout": 5},  # a primary's bounded default
        },
    ),
    ("postgres://localhost/mydb", {"ENGINE": PG, "NAME": "mydb", "HOST": "localhost", "PORT": ""}),
    ("pgsql://h/d", {"ENGINE": PG, "NAME": "d"}),
    ("postgis://h/gis", {"ENGINE": "django.contrib.gis.db.backends.postgis", "NAME": "gis"}),
    ("mysql://root@127.0.0.1:3306/test", {"ENGINE": MYSQL, "USER": "root", "PORT": "3306"}),
    ("mariadb://u:p@h/d", {"ENGINE": MYSQL, "PASSWORD": "p"}),
    ("mysqlgis://h/d", {"ENGINE": "django.contrib.gis.db.backends.mysql"}),
    (
        "oracle://u:p@ora.example.com:1521/XEPDB1",
        {"ENGINE": "django.db.backends.oracle", "NAME": "XEPDB1", "PORT": "1521"},
    ),
    # percent-decoding of user, password, host and name
    (
        "postgresql://us%3Aer:p%40ss%23w%2Frd%3F@h/my%20db",
        {"USER": "us:er", "PASSWORD": "p@ss#w/rd?", "NAME": "my db"},
    ),
    (
        "postgresql://u:pa:ss@h/d",
        {"PASSWORD": "pa:ss"},
    ),  # ':' after the first one is the password's
    ("postgresql://u:@h/d", {"USER": "u", "PASSWORD": ""}),
    # host case is kept; unix sockets; IPv6
    ("postgresql://DB-Primary.Example.COM/d", {"HOST": "DB-Primary.Example.COM"}),
    ("postgresql://%2Fvar%2Frun%2Fpostgresql/d", {"HOST": "/var/run/postgresql", "PORT": ""}),
    ("postgresql:///d?host=/var/run/postgresql", {"HOST": "/var/run/postgresql", "NAME": "d"}),
    ("postgresql://u@[::1]:5433/d", {"HOST": "::1", "PORT": "5433"}),
    ("postgresql://[2001:db8::7]/d", {"HOST": "2001:db8::7", "PORT": ""}),
    ("mysql://u@%2Frun%2Fmysqld%2Fmysqld.sock/d", {"HOST": "/run/mysqld/mysqld.sock"}),
    # driver options, typed
    (
        "postgresql://h/d?sslmode=require&connect_timeout=10",
        {"OPTIONS": {"sslmode": "require", "connect_timeout": 10}},
    ),
    (
        "postgresql://h/d?options=-c%20search_path%3Dapp&sslrootcert=/etc/ca.pem&application_name=web",
        {
            "OPTIONS": {
                "options": "-c search_path=app",
                "sslrootcert": "/etc/ca.pem",
                "application_name": "web",
                "connect_timeout": 5,
            }
        },
    ),
    (
        "postgresql://h/d?isolation_level=serializable&server_side_binding=true",
        {"OPTIONS": {"isolation_level": 4, "server_side_binding": True, "connect_timeout": 5}},
    ),
    (
        "mysql://h/d?charset=utf8mb4&connect_timeout=5&ssl_mode=required&ssl_ca=/ca.pem",
        {
            "OPTIONS": {
                "charset": "utf8mb4",
                "connect_timeout": 5,
                "ssl_mode": "REQUIRED",
                "ssl": {"ca": "/ca.pem"},
            }
        },
    ),
    (
        "sqlite:///db/app.sqlite3?timeout=20&transaction_mode=immediate",
        {"OPTIONS": {"timeout": 20.0, "transaction_mode": "IMMEDIATE"}},
    ),
    # Django-level knobs go where Django reads them
    (
        "postgresql://h/d?conn_max_age=60&conn_health_checks=true&atomic_requests=1",
        {
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "ATOMIC_REQUESTS": True,
            "OPTIONS": {"connect_timeout": 5},
        },
    ),
    (
        "postgresql://h/d?conn_max_age=none&autocommit=false&time_zone=Europe/Paris",
        {"CONN_MAX_AGE": None, "AUTOCOMMIT": False, "TIME_ZONE": "Europe/Paris"},
    ),
    ("postgresql://h/d?disable_server_side_cursors=true", {"DISABLE_SERVER_SIDE_CURSORS": True}),
    (
        "postgresql://h/d?pool=true",
        # pool=true: psycopg_pool's 30 s wait for a connection bounded by the connect timeout
        {"OPTIONS": {"pool": {"timeout": 5}, "connect_timeout": 5}, "CONN_MAX_AGE": 0},
    ),
    (
        "postgresql://h/d?pool_min_size=2&pool_max_size=8&pool_timeout=2.5",
        {
            "OPTIONS": {
                "pool": {"min_size": 2, "max_size": 8, "timeout": 2.5},
                "connect_timeout": 5,
            }
        },
    ),
    # SQLite paths
    ("sqlite:////var/lib/app/db.sqlite3", {"ENGINE": SQLITE, "NAME": "/var/lib/app/db.sqlite3"}),
    ("sqlite://", {"NAME": ":memory:"}),
    ("sqlite:///:memory:", {"NAME": ":memory:"}),
    ("  postgresql://h/d\n", {"NAME": "d", "HOST": "h"}),  # whitespace from .env files
    ("POSTGRESQL://h/d", {"ENGINE": PG}),
]


@pytest.mark.parametrize(("url", "expected"), GOOD_URLS)
def test_good_url_produces_exact_django_settings(url: str, expected: dict[str, Any]) -> None:
    settings = DatabaseConfig.from_url(url).to_django()
    assert {key: settings[key] for key in expected} == expected


def test_url_may_be_given_positionally_or_by_keyword() -> None:
    assert DatabaseConfig.from_url("postgresql://h/d") == DatabaseConfig.from_url(
        url="postgresql://h/d"
    )


def test_relative_sqlite_path_resolves_against_the_base_dir_and_its_folder_is_created(tmp_path):
    settings = DatabaseConfig.from_url("sqlite:///db/nested/default.sqlite3").to_django(tmp_path)
    assert settings["NAME"] == str(tmp_path / "db" / "nested" / "default.sqlite3")
    assert (tmp_path / "db" / "nested").is_dir()


def test_keyword_fields_override_the_url_and_options_merge() -> None:
    database = DatabaseConfig.from_url(
        "postgresql://h/d?sslmode=require&conn_max_age=5",
        conn_max_age=30,
        options={"application_name": "worker"},
    )
    assert database.conn_max_age == 30
    assert database.options == {"sslmode": "require", "application_name": "worker"}


def test_registered_scheme_maps_to_a_third_party_engine(monkeypatch) -> None:
    monkeypatch.setattr("django_cfg.settings.url.ENGINES", dict(ENGINES))  # undone after the test
    register_scheme("cockroach", "django_cockroachdb")
    settings = DatabaseConfig.from_url(
        "cockroach://root@crdb:26257/app?sslmode=disable"
    ).to_django()
    assert settings["ENGINE"] == "django_cockroachdb"
    assert settings["OPTIONS"] == {"sslmode": "disable"}  # unknown engines: options pass as text


def test_third_party_engine_string_is_accepted_directly() -> None:
    database = DatabaseConfig(engine="django_cockroachdb", name="app", host="crdb", port=26257)
    assert database.to_django()["ENGINE"] == "django_cockroachdb"


SECRET = "S3cr3t-P4ss"
BAD_URLS: list[tuple[str, str]] = [
    (f"postgres-ql://u:{SECRET}@h/d", "unknown database URL scheme 'postgres-ql'"),
    (f"u:{SECRET}@h/d", "not a database URL"),
    (f"postgresql://u:{SECRET}@h:54x32/d", "port after the host is not a number"),
    (f"postgresql://u:{SECRET}@h:70000/d", "the port after the host is out of range"),
    (f"postgresql://u:{SECRET}@h:5432", "missing database name"),
    (f"postgresql://u:{SECRET}@h/", "missing database name"),
    (f"postgresql://u:{SECRET}#x@h/d", "ambiguous URL"),
    (f"postgresql://u:{SECRET}@h/d#x", "percent-encode it as %23"),
    (f"postgresql://u:{SECRET}@x@h/d", "percent-encode '@' in the user or password as %40"),
    (f"postgresql://u:{SECRET}/x@h/d", "%2F"),
    (f"postgresql://u:{SECRET}?x@h/d", "%3F"),
    (f"postgresql://u:{SECRET}@[::1/d", "closing ']'"),
    (f"postgresql://u:{SECRET}@h/d?sslmdoe=require", "unknown option 'sslmdoe'"),
    (f"postgresql://u:{SECRET}@h/d?sslmode=sometimes", "'sslmode' must be one of"),
    (
        f"postgresql://u:{SECRET}@h/d?connect_timeout=soon",
        "'connect_timeout' must be a whole number",
    ),
    (f"postgresql://u:{SECRET}@h/d?conn_max_age=-1", "0 or more seconds"),
    (f"postgresql://u:{SECRET}@h/d?atomic_requests=maybe", "must be true or false"),
    (f"postgresql://u:{SECRET}@h/d?sslmode=require&sslmode=disable", "given twice"),
    (f"postgresql://u:{SECRET}@h/d?host=other", "'host' is given both in the URL and in its query"),
    (
        f"postgresql://u:{SECRET}@h/d?pool=true&conn_max_age=60",
        "pool cannot be combined with conn_max_age=60",
    ),
    (f"postgresql://u:{SECRET}@h/d?pool=false&pool_max_size=4", "pool=false"),
    (f"mysql://u:{SECRET}@h/d?pool=true", "pool is supported by PostgreSQL"),
    (f"mysql://u:{SECRET}@h/d?sslmode=require", "unknown option 'sslmode' for a mysql database"),
    ("sqlite://host/file.db", "sqlite URLs have no host"),
    ("sqlite:///", "no file path"),
]


@pytest.mark.parametrize(("url", "message"), BAD_URLS)
def test_bad_url_is_rejected_with_the_problem_named_and_no_password(url: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:  # noqa: PT011: the message is checked below
        DatabaseConfig.from_url(url)
    text = str(raised.value)
    if isinstance(raised.value, ValidationError):
        text += str(raised.value.errors())
    assert message in text
    assert SECRET not in text
    assert SECRET not in repr(raised.value)


def test_errors_show_the_url_with_the_password_masked() -> None:
    with pytest.raises(ValueError, match=r"postgresql://app:\*\*\*@db:5432/main: unknown option"):
        DatabaseConfig.from_url(f"postgresql://app:{SECRET}@db:5432/main?bogus=1")


# --- property: whatever the credentials, encode -> parse gives them back unchanged ------------

# Every character but a NUL, which no driver accepts (and from_url rejects, even as %00).
text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"),
    max_size=20,
)
hosts = st.one_of(
    st.from_regex(
        r"[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?(\.[A-Za-z0-9]{1,10}){0,3}", fullmatch=True
    ),
    st.ip_addresses().map(str),
    st.from_regex(r"/[a-z0-9_/.-]{1,30}", fullmatch=True),  # unix-socket directory
)


@settings(max_examples=300, deadline=None)
@given(
    scheme=st.sampled_from(["postgresql", "postgres", "mysql", "mariadb", "oracle"]),
    user=text,
    password=text,
    host=hosts,
    port=st.one_of(st.none(), st.integers(1, 65535)),
    name=text.filter(bool),
)
def test_any_credentials_host_port_and_name_survive_encode_then_parse(
    scheme: str, user: str, password: str, host: str, port: int | None, name: str
) -> None:
    shown_host = f"[{host}]" if ":" in host else quote(host, safe="")
    url = (
        f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{shown_host}"
        f"{f':{port}' if port else ''}/{quote(name, safe='')}"
    )
    settings = DatabaseConfig.from_url(url).to_django()
    assert (settings["USER"], settings["PASSWORD"], settings["HOST"], settings["NAME"]) == (
        user,
        password,
        host,
        name,
    )
    assert settings["PORT"] == (str(port) if port else "")
