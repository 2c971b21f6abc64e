"""The environment rules the docs state: an empty variable is unset, DJANGO_ENV comes from the
process (a .env that sets it to another environment is refused, naming the file), and a config
error at settings import is one short ImproperlyConfigured message naming the variable or field
and the file, without pydantic's rendering (DJANGO_CFG_TRACEBACK=1 keeps it as the cause)."""

from __future__ import annotations

import subprocess
import sys
import traceback
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from pydantic import ValidationError

from django_cfg import DatabaseConfig, DatabaseURLs, DjangoConfig, EnvSettings, databases_from_urls
from django_cfg.settings.production import ProductionSettingsError
from tests.settings.test_env_loading import url
from tests.support.env_settings import environment_in
from tests.support.manage_py_project import write_manage_py_project
from tests.support.spec_page import run_process

PYDANTIC_RENDERING = ("validation error for", "errors.pydantic.dev", "[type=", "input_value")


def test_an_empty_variable_is_unset_and_the_env_file_applies(tmp_path, clean_env) -> None:
    (tmp_path / ".env").write_text("DATABASE__URL=postgresql://app@db/main\n")
    clean_env.setenv("DATABASE__URL", "")
    clean_env.setenv("DATABASE_URL_BLOG", "")  # the single-underscore form too

    env = environment_in(tmp_path)()

    assert url(env.database.url) == "postgresql://app@db/main"
    assert set(databases_from_urls(env.database)) == {"default"}


def test_an_empty_variable_falls_back_to_the_default(tmp_path, clean_env) -> None:
    clean_env.setenv("DATABASE__URL", "")
    env = environment_in(tmp_path)()
    assert url(env.database.url) == "sqlite:///db/default.sqlite3"
    assert "default" in databases_from_urls(env.database)


def test_an_empty_variable_in_production_is_refused_as_unset(tmp_path, clean_env) -> None:
    clean_env.setenv("DJANGO_ENV", "prod")
    clean_env.setenv("SECRET_KEY", "k" * 60)
    clean_env.setenv("DATABASE__URL", "")
    with pytest.raises(
        ProductionSettingsError, match=r"DATABASE__URL \(or DATABASE_URL\): not set"
    ):
        environment_in(tmp_path)()


@pytest.mark.parametrize("process", [None, ""], ids=["unset", "empty"])
def test_django_env_in_a_dotenv_file_is_refused_naming_the_file(
    tmp_path, clean_env, process: str | None
) -> None:
    if process is not None:
        clean_env.setenv("DJANGO_ENV", process)
    (tmp_path / ".env").write_text("DJANGO_ENV=production\nSECRET_KEY=abc\n")
    with pytest.raises(ProductionSettingsError) as raised:
        environment_in(tmp_path)()
    message = str(raised.value)
    assert message.startswith(f"DJANGO_ENV=production is set in {tmp_path / '.env'}, but ")
    assert "would run as 'dev'" in message
    assert "export DJANGO_ENV=production" in message
    assert isinstance(raised.value, ImproperlyConfigured)


def test_an_unreadable_env_file_is_still_reported_without_its_content(tmp_path, clean_env) -> None:
    (tmp_path / ".env").write_bytes(b"DJANGO_ENV=prod\nSECRET_KEY=s3cret-\xff-value\n")
    with pytest.raises(ImproperlyConfigured) as raised:
        environment_in(tmp_path)()
    assert str(raised.value) == (
        f"{tmp_path / '.env'} is not UTF-8 text (an invalid byte at offset 34); save it as UTF-8."
    )
    assert "s3cret" not in "".join(traceback.format_exception(raised.value))


def test_django_env_in_the_file_agreeing_with_the_process_is_accepted(tmp_path, clean_env) -> None:
    (tmp_path / ".env").write_text("DJANGO_ENV=dev\n")
    assert url(environment_in(tmp_path)().database.url) == "sqlite:///db/default.sqlite3"
    (tmp_path / ".env").write_text("DJANGO_ENV=production\n")
    clean_env.setenv("DJANGO_ENV", "test")  # the process decides; the file is overridden
    assert url(environment_in(tmp_path)().database.url) == "sqlite:///db/default.sqlite3"


def test_a_config_error_is_one_short_message_naming_the_field_and_file() -> None:
    with pytest.raises(ImproperlyConfigured) as raised:
        DjangoConfig(databases={"main": DatabaseConfig.from_url("sqlite://")})
    message = str(raised.value)
    assert message.startswith("DjangoConfig (")
    assert "django_cfg/settings/django_config.py): field databases: databases must contain " in (
        message
    )
    assert "DATABASE__URL" in message
    assert "\n" not in message
    assert not any(text in message for text in PYDANTIC_RENDERING)
    assert isinstance(raised.value, ValidationError)  # errors() as before, inputs hidden
    assert raised.value.errors()[0]["loc"] == ("databases",)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_an_env_settings_error_names_the_variable_and_the_files(tmp_path, clean_env) -> None:
    class Environment(EnvSettings):
        config_dir = tmp_path
        workers: int = 1
        database: DatabaseURLs = DatabaseURLs()

    (tmp_path / ".env").write_text("WORKERS=many\n")
    with pytest.raises(ImproperlyConfigured) as raised:
        Environment()
    lines = str(raised.value).splitlines()
    assert lines[0].startswith("Environment (")
    assert lines[0].endswith(
        ": variable WORKERS: Input should be a valid integer, unable to parse string as an integer"
    )
    assert lines[1] == (
        f"Read: the process environment and, in {tmp_path}: .env (read), .env.dev (not found), "
        "config.dev.yaml (not found)."
    )
    assert not any(text in str(raised.value) for text in PYDANTIC_RENDERING)


def test_a_database_field_error_names_the_url_variable(tmp_path, clean_env) -> None:
    clean_env.setenv("DATABASE__URL_BLOG", "postgresql://app:s3cret-pw@db/blog?conn_max_age=-1")
    with pytest.raises(ImproperlyConfigured) as raised:
        databases_from_urls(environment_in(tmp_path)().database)
    message = str(raised.value)
    assert "DATABASE__URL_BLOG" in message
    assert "s3cret-pw" not in message


CHECKED_CONFIG = """\
        from django_cfg import DatabaseURLs, DjangoConfig, EnvSettings, databases_from_urls

        class Environment(EnvSettings):
            database: DatabaseURLs = DatabaseURLs()

        env = Environment()

        class MyDjangoConfig(DjangoConfig):
            databases = databases_from_urls(env.database, blog_db={"read_weight": 0.5})

        config = MyDjangoConfig()
        """


def check_command(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    write_manage_py_project(tmp_path, CHECKED_CONFIG)
    return run_process(
        [sys.executable, "manage.py", "check"],
        cwd=tmp_path,
        env={"DATABASE__URL_BLOG": "sqlite:///db/blog.sqlite3", **variables},
        timeout=60,
    )


def test_manage_py_shows_the_error_without_pydantic_internals(tmp_path: Path) -> None:
    run = check_command(tmp_path)
    assert run.returncode == 1
    last = run.stderr.rstrip().splitlines()[-1]
    assert last == (
        "django_cfg.settings.config_errors.InvalidSettings: databases['blog_db'] (database URL "
        "url_blog (e.g. variable DATABASE__URL_BLOG)): sqlite:///db/blog.sqlite3: read_weight "
        "only apply to a replica; add replica_of='<primary alias>'."
    )
    assert "During handling of the above exception" not in run.stderr
    assert "The above exception was the direct cause" not in run.stderr
    assert not any(text in run.stderr for text in PYDANTIC_RENDERING)
    assert "pydantic" not in run.stderr  # no frame of pydantic's either

    full = check_command(tmp_path, DJANGO_CFG_TRACEBACK="1")
    assert full.returncode == 1
    assert "The above exception was the direct cause" in full.stderr
    assert "validation error for DatabaseConfig" in full.stderr


def test_a_tenants_config_error_is_one_short_message_without_the_template() -> None:
    from django_cfg import TenantsConfig

    with pytest.raises(ImproperlyConfigured) as raised:
        TenantsConfig(apps=["notes"], url="postgresql://app:Pw-9f2c@db/t_{tenant}", max_open=0)
    message = str(raised.value)
    assert message == "TenantsConfig: field max_open: Input should be greater than or equal to 1"
    assert not any(text in message for text in PYDANTIC_RENDERING)
    assert "Pw-9f2c" not in repr(raised.value.errors())
    assert raised.value.__cause__ is None
