"""No database password in Django's error reports (docs/configuration.md, "Error reports").

A database server refuses a connection: Django's own frames (``get_new_connection``'s
``conn_params``) and the driver's (psycopg's connection string, MySQLdb's keyword arguments)
hold the password. Each test renders the exception the way Django does (tests/support/
error_reports.py: the DEBUG page, its text, the ADMINS e-mail with its HTML part) and looks for
the random part of the password: whatever the quoting or escaping, it must appear nowhere.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError, connections
from django.test import override_settings
from django.utils.module_loading import import_string
from django.views.debug import (
    SafeExceptionReporterFilter,
    get_default_exception_reporter_filter,
)

from django_cfg import DatabaseConfig, DjangoConfig
from django_cfg.runtime.added_databases import add_database, remove_database
from django_cfg.settings.error_reports import DatabasePasswordFilter
from tests.support.error_reports import MAIL_SETTINGS, ExcInfo, raise_in, reports
from tests.support.services import MARIADB_URL, POSTGRES_URL

FILTER = "django_cfg.settings.error_reports.DatabasePasswordFilter"


def new_password() -> tuple[str, str]:
    """A password with characters that URLs, libpq connection strings and reprs quote or
    escape, and its random core (in every form of it)."""
    core = secrets.token_hex(8)
    return f"Pw{core}@/%+ '\\x", core


def assert_hidden(shown: dict[str, str], core: str) -> None:
    for where, text in shown.items():
        assert core not in text, f"the password in the {where}"


@pytest.fixture
def refused(django_db_blocker: Any) -> Iterator[Callable[[str], ExcInfo]]:
    """``refused(url)``: the error of connecting to ``url``, added as a database at run time
    (``add_database``; removed after the test)."""
    aliases: list[str] = []

    def connect(url: str) -> ExcInfo:
        alias = f"refused_{len(aliases)}"
        add_database(alias, DatabaseConfig.from_url(url))
        aliases.append(alias)
        with django_db_blocker.unblock():
            exc_info = raise_in(connections[alias].ensure_connection)
        assert exc_info[0] is OperationalError, exc_info[1]
        return exc_info

    with override_settings(**MAIL_SETTINGS):
        yield connect
    for alias in aliases:
        remove_database(alias)


@pytest.mark.parametrize("debug", [True, False], ids=["debug", "production"])
@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
def test_a_server_that_refuses_the_connection_shows_no_password(
    refused: Callable[[str], ExcInfo], scheme: str, debug: bool
) -> None:
    """Nothing listens on port 1: the driver raises at once, with no server needed."""
    password, core = new_password()
    exc_info = refused(f"{scheme}://app:{quote(password, safe='')}@127.0.0.1:1/shop")
    with override_settings(DEBUG=debug):
        shown = reports(exc_info)
    assert_hidden(shown, core)
    # the frames and their other variables are still shown
    assert "get_new_connection" in shown["html"]
    assert "conn_params" in shown["html"]
    assert "&#x27;********************&#x27;" in shown["html"]
    assert "&#x27;shop&#x27;" in shown["html"]


@pytest.mark.postgres
def test_a_database_that_does_not_exist_shows_no_password(
    refused: Callable[[str], ExcInfo],
) -> None:
    """The test server (trust authentication) has no such database; the password sent along
    is in Django's frames."""
    password, core = new_password()
    server = DatabaseConfig.from_url(POSTGRES_URL)
    missing = f"django_cfg_missing_{secrets.token_hex(3)}"
    exc_info = refused(
        f"postgresql://{server.user}:{quote(password, safe='')}@{server.host}:{server.port}/"
        f"{missing}"
    )
    assert f'database "{missing}" does not exist' in str(exc_info[1])
    with override_settings(DEBUG=True):
        shown = reports(exc_info)
    assert_hidden(shown, core)
    assert missing in shown["html"]


@pytest.mark.mariadb
def test_a_password_the_server_refuses_shows_no_password(
    refused: Callable[[str], ExcInfo],
) -> None:
    """MariaDB's root has no password here: a connection giving one is refused."""
    password, core = new_password()
    server = DatabaseConfig.from_url(MARIADB_URL)
    exc_info = refused(
        f"mysql://{server.user}:{quote(password, safe='')}@{server.host}:{server.port or 3306}/"
        f"{server.name}"
    )
    assert "Access denied" in str(exc_info[1])
    with override_settings(DEBUG=True):
        shown = reports(exc_info)
    assert_hidden(shown, core)


def test_passwords_not_configured_are_hidden_by_where_they_stand() -> None:
    """A password the settings do not know (a URL typed in a shell, a connection string built
    by hand): hidden because it stands at a password key, after ``password=`` or in a URL's
    ``user:password@``."""
    password, core = new_password()
    one, two, three = secrets.token_hex(6), secrets.token_hex(6), secrets.token_hex(6)

    def connect(dsn: str, params: dict[str, Any], url: str) -> None:
        raise ConnectionError("refused")

    exc_info = raise_in(
        connect,
        f"host=db.example.com password='{one} x' dbname=shop",
        {"host": "db.example.com", "passwd": password, "options": {"sslpassword": two}},
        f"redis://cache:{three}@cache.example.com:6379/0",
    )
    with override_settings(DEBUG=True, **MAIL_SETTINGS):
        shown = reports(exc_info)
    for secret in (core, one, two, three):
        assert_hidden(shown, secret)
    assert "dbname=shop" in shown["html"]
    assert "cache.example.com:6379/0" in shown["html"]


def test_a_url_in_the_environment_or_a_setting_shows_no_password() -> None:
    """``runserver`` copies the environment into ``request.META``: a ``DATABASE_URL`` there,
    and a setting whose name Django does not hide (``CACHE_URL``), keep their passwords."""
    one, two = secrets.token_hex(8), secrets.token_hex(8)
    with override_settings(
        DEBUG=True, CACHE_URL=f"redis://:{one}@cache.example.com:6379/0", **MAIL_SETTINGS
    ):
        exc_info = raise_in(lambda: 1 / 0)
        shown = reports(exc_info, DATABASE_URL=f"postgresql://app:{two}@db.example.com/shop")
    assert_hidden(shown, one)
    assert_hidden(shown, two)
    assert "db.example.com/shop" in shown["html"]
    assert "cache.example.com:6379/0" in shown["html"]


def test_a_configured_password_is_hidden_inside_any_value(
    refused: Callable[[str], ExcInfo],
) -> None:
    """A database's password found in a value of any kind (an object's repr, a message, a
    setting) is replaced, in whatever form it is written."""
    password, core = new_password()
    refused(f"postgresql://app:{quote(password, safe='')}@127.0.0.1:1/shop")

    class Holder:
        def __repr__(self) -> str:
            return f"<Holder {quote(password)} {password!r}>"

    def fail(holder: Holder, text: str) -> None:
        raise ValueError("failed")

    exc_info = raise_in(fail, Holder(), f"the shop's is {password}, as given")
    with override_settings(DEBUG=True, SUPPORT_NOTE=f"the shop's is {password}"):
        shown = reports(exc_info)
    assert_hidden(shown, core)
    assert "&lt;Holder ******************** &quot;********************&quot;&gt;" in shown["html"]
    assert "the shop&#x27;s is ********************, as given" in shown["html"]


def test_django_config_sets_the_filter_and_takes_yours() -> None:
    databases = {"default": DatabaseConfig.from_url("sqlite://")}
    rendered = DjangoConfig(databases=databases).get_all_settings()
    assert rendered["DEFAULT_EXCEPTION_REPORTER_FILTER"] == FILTER
    assert issubclass(import_string(FILTER), SafeExceptionReporterFilter)
    own = DjangoConfig(databases=databases, exception_reporter_filter="myproject.errors.Filter")
    assert own.get_all_settings()["DEFAULT_EXCEPTION_REPORTER_FILTER"] == "myproject.errors.Filter"


class NoEmailFilter(DatabasePasswordFilter):
    """A project's own filter, combined by subclassing (docs/configuration.md)."""

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        if key == "SERVER_EMAIL":
            return self.cleansed_substitute
        return super().cleanse_setting(key, value)


def test_a_filter_of_your_own_keeps_the_guarantee_by_subclassing(
    refused: Callable[[str], ExcInfo],
) -> None:
    password, core = new_password()
    exc_info = refused(f"postgresql://app:{quote(password, safe='')}@127.0.0.1:1/shop")
    own = f"{__name__}.NoEmailFilter"
    with override_settings(DEBUG=True, DEFAULT_EXCEPTION_REPORTER_FILTER=own):
        get_default_exception_reporter_filter.cache_clear()  # Django keeps the first one
        try:
            shown = reports(exc_info)
        finally:
            get_default_exception_reporter_filter.cache_clear()
    assert_hidden(shown, core)
    assert "root@localhost" not in shown["html"]  # the project's own rule applies too


class BrokenConnections:
    """``django.db.connections`` when ``DATABASES`` cannot be read as Django needs it."""

    @property
    def settings(self) -> dict[str, Any]:
        raise ImproperlyConfigured("settings.DATABASES is improperly configured.")


def test_a_report_is_built_when_the_connections_cannot_be_read(
    refused: Callable[[str], ExcInfo], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The error being reported may be that ``DATABASES`` is wrong: the report is still built,
    with the passwords of ``DATABASES`` as given hidden."""
    password, core = new_password()
    exc_info = refused(f"postgresql://app:{quote(password, safe='')}@127.0.0.1:1/shop")
    databases = {"default": {"ENGINE": "django.db.backends.sqlite3", "PASSWORD": password}}
    monkeypatch.setattr("django_cfg.settings.error_reports.connections", BrokenConnections())
    with (
        pytest.warns(UserWarning, match="Overriding setting DATABASES"),
        override_settings(DEBUG=True, DATABASES=databases),
    ):
        shown = reports(exc_info)
    assert_hidden(shown, core)
    assert "conn_params" in shown["html"]


def test_long_and_many_passwords_are_hidden(refused: Callable[[str], ExcInfo]) -> None:
    """A 1,000-character password and 50 databases with passwords of their own: one regex
    (nested once per branching, not per character) hides them all."""
    long_password = secrets.token_urlsafe(750)
    others = [new_password() for _ in range(50)]
    for password, _ in others:
        refused(f"postgresql://app:{quote(password, safe='')}@127.0.0.1:1/shop")
    exc_info = refused(f"postgresql://app:{long_password}@127.0.0.1:1/shop")
    with override_settings(DEBUG=True):
        shown = reports(exc_info)
    assert_hidden(shown, long_password[:40])
    assert_hidden(shown, long_password[-40:])
    assert "conn_params" in shown["html"]


def test_cache_and_email_passwords_are_hidden_inside_any_value() -> None:
    """``CACHES`` (a redis URL's password, a password OPTION) and ``EMAIL_HOST_PASSWORD`` are
    configured secrets too: hidden where nothing names them (a message, a repr)."""
    url_password, url_core = new_password()
    option_password, option_core = new_password()
    email_password, email_core = new_password()
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": [f"redis://:{quote(url_password, safe='')}@127.0.0.1:1/0"],
        },
        "sessions": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"password": option_password},
        },
    }

    def fail(said: str) -> None:
        raise ConnectionError("refused")

    exc_info = raise_in(fail, f"auth {url_password} {option_password} {email_password}")
    with override_settings(
        DEBUG=True, CACHES=caches, EMAIL_HOST_PASSWORD=email_password, **MAIL_SETTINGS
    ):
        shown = reports(exc_info)
    for core in (url_core, option_core, email_core):
        assert_hidden(shown, core)
    assert "auth ******************** ******************** ********************" in shown["html"]
