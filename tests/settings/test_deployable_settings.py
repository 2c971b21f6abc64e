"""The settings a deployment needs, as typed fields: password validators (startproject's by
default), CACHES and EMAIL_* from URLs (passwords hidden like database passwords), LOGGING, and
the HTTPS settings on whenever debug is False."""

from __future__ import annotations

import ast
import logging
import logging.config
import re
from pathlib import Path
from typing import Any

import django
import pytest
from django.core import mail
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.locmem import LocMemCache
from django.test import override_settings
from pydantic import SecretStr, ValidationError

from django_cfg import CacheConfig, DatabaseConfig, DatabaseURLError, DjangoConfig, EmailConfig

KEY = "k" * 60
PASSWORD = "p@ss/w0rd#secret"
ENCODED = "p%40ss%2Fw0rd%23secret"


def config(**fields: Any) -> DjangoConfig:
    return DjangoConfig(databases={"default": DatabaseConfig.from_url("sqlite://")}, **fields)


def startproject_validators() -> list[dict[str, str]]:
    template = Path(django.__file__).parent / "conf/project_template/project_name/settings.py-tpl"
    for node in ast.parse(template.read_text()).body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "AUTH_PASSWORD_VALIDATORS":  # type: ignore[attr-defined]
            return ast.literal_eval(node.value)  # type: ignore[no-any-return]
    raise AssertionError("startproject's template has no AUTH_PASSWORD_VALIDATORS")


# --- password validators ------------------------------------------------------------------------


def test_password_validators_are_startprojects_by_default_and_overridable() -> None:
    assert config().get_all_settings()["AUTH_PASSWORD_VALIDATORS"] == startproject_validators()
    own = [{"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"}]

    class Project(DjangoConfig):
        databases = {"default": DatabaseConfig.from_url("sqlite://")}
        password_validators = own

    assert Project().get_all_settings()["AUTH_PASSWORD_VALIDATORS"] == own
    assert config(password_validators=[]).get_all_settings()["AUTH_PASSWORD_VALIDATORS"] == []


# --- caches -------------------------------------------------------------------------------------

CACHE_URLS = {
    f"redis://:{ENCODED}@cache.internal:6380/2": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"redis://:{ENCODED}@cache.internal:6380/2",
        "TIMEOUT": 300,
    },
    "rediss://cache.internal?timeout=60&ssl_cert_reqs=none&key_prefix=app": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "rediss://cache.internal:6379?ssl_cert_reqs=none",
        "TIMEOUT": 60,
        "KEY_PREFIX": "app",
    },
    "memcached://m1:11211,m2:11212": {
        "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
        "LOCATION": ["m1:11211", "m2:11212"],
        "TIMEOUT": 300,
    },
    "pymemcache://m1?timeout=none": {
        "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
        "LOCATION": "m1:11211",
        "TIMEOUT": None,
    },
    "dbcache://cache_table?max_entries=500&cull_frequency=4": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "cache_table",
        "TIMEOUT": 300,
        "OPTIONS": {"max_entries": 500, "cull_frequency": 4},
    },
    "locmem://": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "",
        "TIMEOUT": 300,
    },
    "locmem://sessions?version=2": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "sessions",
        "TIMEOUT": 300,
        "VERSION": 2,
    },
    "dummy://": {
        "BACKEND": "django.core.cache.backends.dummy.DummyCache",
        "LOCATION": "",
        "TIMEOUT": 300,
    },
    "file:///var/tmp/django_cache": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": "/var/tmp/django_cache",
        "TIMEOUT": 300,
    },
}


@pytest.mark.parametrize("url", CACHE_URLS)
def test_cache_urls_render_django_caches(url: str) -> None:
    rendered = config(caches={"default": url}).get_all_settings()["CACHES"]
    assert rendered == {"default": CACHE_URLS[url]}


def test_the_redis_password_shows_only_in_the_rendered_location() -> None:
    cache = CacheConfig.from_url(f"redis://app:{ENCODED}@cache.internal/0")
    project = config(caches={"default": cache, "sessions": SecretStr("locmem://s")})
    for shown in (
        repr(cache),
        str(cache),
        cache.model_dump_json(),
        repr(project),
        project.model_dump_json(),
    ):
        assert PASSWORD not in shown
        assert ENCODED not in shown
    assert str(cache) == "redis://app:***@cache.internal:6379/0"
    location = project.get_all_settings()["CACHES"]["default"]["LOCATION"]
    assert location == f"redis://app:{ENCODED}@cache.internal:6379/0"


def test_rendered_caches_work_with_djangos_backends(tmp_path: Path) -> None:
    rendered = config(
        caches={
            "default": "locmem://one?timeout=30",
            "files": f"file://{tmp_path}/cache",
            "table": "dbcache://cache_table",
        }
    ).get_all_settings()["CACHES"]
    local = LocMemCache(rendered["default"]["LOCATION"], rendered["default"])
    local.set("answer", 42)
    assert local.get("answer") == 42
    assert local.default_timeout == 30
    files = FileBasedCache(rendered["files"]["LOCATION"], rendered["files"])
    files.set("answer", 42)
    assert files.get("answer") == 42
    assert (tmp_path / "cache").is_dir()
    assert DatabaseCache(rendered["table"]["LOCATION"], rendered["table"])._table == "cache_table"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis2://cache", "not a cache URL (scheme 'redis2'); write one of: redis://"),
        ("dbcache://", "dbcache://: name the cache's table: dbcache://cache_table."),
        ("file://relative/dir", "a file cache URL names an absolute folder"),
        ("locmem://x?timeot=3", "unknown option 'timeot' for a cache URL"),
        ("memcached://u:pw@m1", "Django's memcached backend has no user or password"),
        (f"redis://:{PASSWORD}@cache/0", "ambiguous URL"),
        ("redis://h1,h2/0", "a redis cache URL names one server."),
    ],
)
def test_bad_cache_urls_say_why_without_the_password(url: str, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        config(caches={"default": url})
    assert message in str(raised.value)
    assert PASSWORD not in str(raised.value) + raised.value.json()
    assert "pw" not in str(raised.value).replace("pymemcache", "")


def test_caches_need_a_default() -> None:
    with pytest.raises(ValidationError, match="field caches: caches must contain 'default'"):
        config(caches={"other": "locmem://"})


# --- e-mail -------------------------------------------------------------------------------------

SMTP = "django.core.mail.backends.smtp.EmailBackend"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            f"smtp+tls://app%40example.com:{ENCODED}@mail.example.com",
            {"EMAIL_HOST": "mail.example.com", "EMAIL_PORT": 587, "EMAIL_USE_TLS": True},
        ),
        (
            f"smtp+ssl://app:{ENCODED}@mail.example.com?timeout=10",
            {"EMAIL_PORT": 465, "EMAIL_USE_SSL": True, "EMAIL_TIMEOUT": 10},
        ),
        ("smtp://relay:2525", {"EMAIL_HOST": "relay", "EMAIL_PORT": 2525, "EMAIL_USE_TLS": False}),
    ],
)
def test_smtp_urls_render_email_settings(url: str, expected: dict[str, Any]) -> None:
    rendered = config(email=url).get_all_settings()
    assert rendered["EMAIL_BACKEND"] == SMTP
    assert {name: rendered[name] for name in expected} == expected


def test_the_rendered_smtp_settings_reach_djangos_backend() -> None:
    rendered = config(
        email=f"smtp+tls://app%40example.com:{ENCODED}@mail.example.com:2587"
    ).get_all_settings()
    with override_settings(**{k: v for k, v in rendered.items() if k.startswith("EMAIL_")}):
        connection = mail.get_connection()
    assert (connection.host, connection.port) == ("mail.example.com", 2587)
    assert (connection.username, connection.password) == ("app@example.com", PASSWORD)
    assert connection.use_tls is True
    assert connection.use_ssl is False


def test_console_file_and_memory_email_urls(tmp_path: Path) -> None:
    console = config(email="console://").get_all_settings()
    assert console["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert "EMAIL_HOST_PASSWORD" not in console
    files = config(email=f"file://{tmp_path}").get_all_settings()
    assert files["EMAIL_BACKEND"] == "django.core.mail.backends.filebased.EmailBackend"
    assert files["EMAIL_FILE_PATH"] == str(tmp_path)
    memory = config(email="locmem://").get_all_settings()
    assert memory["EMAIL_BACKEND"] == "django.core.mail.backends.locmem.EmailBackend"


def test_the_email_password_is_hidden_like_a_database_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    email = EmailConfig.from_url(f"smtp+ssl://app:{ENCODED}@mail.example.com")
    project = config(email=email)
    logging.getLogger("test").warning("email %s %r", email, email)
    with pytest.raises(ValidationError) as raised:
        config(email=f"smtp+tls://app:{ENCODED}@mail.example.com?timeout=soon")
    for shown in (
        repr(email),
        str(email),
        email.model_dump_json(),
        repr(project),
        project.model_dump_json(),
        caplog.text,
        str(raised.value),
        raised.value.json(),
        repr(raised.value.errors()),
    ):
        assert PASSWORD not in shown
        assert ENCODED not in shown
    assert str(email) == "smtp+ssl://app:***@mail.example.com:465"
    assert "option 'timeout' must be a whole number of seconds" in str(raised.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("smtps://mail", "not an e-mail URL (scheme 'smtps'); write one of: smtp://"),
        ("smtp://", "name the SMTP server"),
        ("file://var/mail", "write the folder absolute"),
        ("smtp://mail?tls=1", "unknown option 'tls' for an e-mail URL; known: timeout"),
    ],
)
def test_bad_email_urls_say_why(url: str, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        config(email=url)


def test_tls_and_ssl_exclude_each_other() -> None:
    with pytest.raises(ValidationError, match=r"use_tls \(STARTTLS\) and use_ssl"):
        EmailConfig(host="mail", use_tls=True, use_ssl=True)


def test_url_errors_are_database_url_errors_too() -> None:
    with pytest.raises(DatabaseURLError):
        EmailConfig.from_url("gopher://x")


# --- logging ------------------------------------------------------------------------------------


def test_log_level_renders_a_console_logging_that_dictconfig_accepts() -> None:
    assert "LOGGING" not in config().get_all_settings()  # Django's default logging
    rendered = config(log_level="WARNING").get_all_settings()["LOGGING"]
    assert rendered["root"] == {"handlers": ["console"], "level": "WARNING"}
    root = logging.getLogger()
    before = (root.level, list(root.handlers))
    try:
        logging.config.dictConfig(rendered)
        assert root.level == logging.WARNING
        assert any(type(h) is logging.StreamHandler for h in root.handlers)
    finally:
        root.setLevel(before[0])
        root.handlers[:] = before[1]


def test_a_logging_dict_is_passed_through_and_checked() -> None:
    own = {"version": 1, "loggers": {"django": {"level": "ERROR"}}}
    assert config(logging=own, log_level="DEBUG").get_all_settings()["LOGGING"] == own
    with pytest.raises(ValidationError, match=r"field logging: logging is a logging\.config"):
        config(logging={"loggers": {}})
    with pytest.raises(ValidationError, match="field log_level"):
        config(log_level="LOUD")


# --- HTTPS --------------------------------------------------------------------------------------

SECURITY = (
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
)


def test_https_settings_are_on_in_production_and_off_in_development() -> None:
    production = config(environment="prod", secret_key=KEY).get_all_settings()
    assert [production[name] for name in SECURITY] == [True, 31_536_000, True, True]
    development = config(environment="dev").get_all_settings()
    assert [development[name] for name in SECURITY] == [False, 0, False, False]
    assert "SECURE_PROXY_SSL_HEADER" not in production


def test_https_settings_are_overridable() -> None:
    behind_proxy = config(
        environment="prod",
        secret_key=KEY,
        secure_ssl_redirect=False,
        secure_hsts_seconds=3600,
        secure_hsts_include_subdomains=True,
        secure_proxy_ssl_header=("HTTP_X_FORWARDED_PROTO", "https"),
        csrf_trusted_origins=["https://app.example.com"],
        session_cookie_secure=False,
    ).get_all_settings()
    assert behind_proxy["SECURE_SSL_REDIRECT"] is False
    assert behind_proxy["SECURE_HSTS_SECONDS"] == 3600
    assert behind_proxy["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert behind_proxy["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert behind_proxy["CSRF_TRUSTED_ORIGINS"] == ["https://app.example.com"]
    assert behind_proxy["SESSION_COOKIE_SECURE"] is False
    assert behind_proxy["CSRF_COOKIE_SECURE"] is True
