"""Safe defaults: a random development key per checkout; production refuses fallbacks.

- the development key is random, kept in <base dir>/.django-cfg-development-key (0600), the same
  for every process of one checkout, different for two checkouts of the same files;
- ``check --deploy`` reports it (django_cfg.W020);
- outside dev/test, an unset secret key or a database URL that fell back to the built-in SQLite
  default (a malformed .env.prod line) stops the process at startup, naming the variable and the
  files read, never showing a secret.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import stat
import textwrap
import threading
from pathlib import Path

import pytest
from django.test import override_settings
from pydantic import SecretStr, ValidationError

from django_cfg import DatabaseConfig, DatabaseURLs, DjangoConfig, EnvSettings, databases_from_urls
from django_cfg.checks.deployment import check_development_key
from django_cfg.settings.development_key import (
    DEVELOPMENT_KEY_FILE,
    DEVELOPMENT_KEY_PREFIX,
    DevelopmentKeyError,
    development_secret_key,
)
from django_cfg.settings.production import ProductionSettingsError
from tests.support.example_project import ExampleProject
from tests.support.spec_page import MANAGE_PY, SETTINGS_MODULE, run_python

SQLITE = DatabaseConfig.from_url("sqlite://")
PRODUCTION_KEY = "p" * 30 + "-production-key-" + "q" * 20
PASSWORD = "Hunter2-never-shown"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith(("DATABASE", "DJANGO_ENV", "SECRET_KEY")):
            monkeypatch.delenv(name)
    return monkeypatch


def key_of(folder: Path) -> str:
    return DjangoConfig(databases={"default": SQLITE}, base_dir=folder).get_all_settings()[
        "SECRET_KEY"
    ]


# --- the development key -------------------------------------------------------------------------


def test_development_key_is_random_per_checkout_and_stable_within_one(tmp_path, clean_env) -> None:
    first, second = tmp_path / "checkout-1", tmp_path / "checkout-2"
    first.mkdir()
    second.mkdir()
    key = key_of(first)
    assert key.startswith(DEVELOPMENT_KEY_PREFIX)
    assert len(key) == len(DEVELOPMENT_KEY_PREFIX) + 50
    assert key_of(first) == key  # stable across configs (and restarts: it is read back)
    assert (first / DEVELOPMENT_KEY_FILE).read_text().strip() == key
    assert key_of(second) != key  # same files, same project_name: another key
    # not the old formula anyone could compute from the project name
    old = hashlib.sha256(b"django-cfg:Django project").hexdigest()[:40]
    assert old not in key


def test_development_key_file_is_private(tmp_path, clean_env) -> None:
    key_of(tmp_path)
    mode = stat.S_IMODE((tmp_path / DEVELOPMENT_KEY_FILE).stat().st_mode)
    assert mode == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [DEVELOPMENT_KEY_FILE]  # no temporary left


def test_the_project_subclass_keeps_its_key_under_the_project_base_dir(tmp_path) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "__init__.py").write_text("")
    (tmp_path / "api" / "config.py").write_text(
        "from django_cfg import DjangoConfig, DatabaseConfig\n"
        "class MyDjangoConfig(DjangoConfig):\n"
        "    databases = {'default': DatabaseConfig.from_url('sqlite://')}\n"
        "print(MyDjangoConfig().get_all_settings()['SECRET_KEY'])\n"
    )
    printed = {run_python("-c", "import api.config", cwd=tmp_path).strip() for _ in range(2)}
    assert printed == {(tmp_path / DEVELOPMENT_KEY_FILE).read_text().strip()}  # both processes


def test_threads_creating_the_key_at_once_agree(tmp_path) -> None:
    rounds, threads = 20, 12
    for round_number in range(rounds):
        folder = tmp_path / f"round-{round_number}"
        folder.mkdir()
        barrier = threading.Barrier(threads)
        keys: list[str] = []

        def create(
            folder: Path = folder, barrier: threading.Barrier = barrier, keys: list[str] = keys
        ) -> None:
            barrier.wait()
            keys.append(development_secret_key(folder))

        workers = [threading.Thread(target=create) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert len(keys) == threads
        assert set(keys) == {(folder / DEVELOPMENT_KEY_FILE).read_text().strip()}
        assert sorted(p.name for p in folder.iterdir()) == [DEVELOPMENT_KEY_FILE]


def _create_in_child(folder: str, barrier: object, results: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    results.put(development_secret_key(Path(folder)))  # type: ignore[attr-defined]


def test_processes_creating_the_key_at_once_agree(tmp_path) -> None:
    context = multiprocessing.get_context("fork")
    rounds, processes = 5, 6
    for round_number in range(rounds):
        folder = tmp_path / f"round-{round_number}"
        folder.mkdir()
        barrier, results = context.Barrier(processes), context.Queue()
        children = [
            context.Process(target=_create_in_child, args=(str(folder), barrier, results))
            for _ in range(processes)
        ]
        for child in children:
            child.start()
        keys = {results.get(timeout=60) for _ in children}
        for child in children:
            child.join()
            assert child.exitcode == 0
        assert keys == {(folder / DEVELOPMENT_KEY_FILE).read_text().strip()}


def test_a_folder_that_cannot_hold_the_file_gives_a_per_process_key(tmp_path) -> None:
    missing = tmp_path / "no" / "such" / "folder"
    key = development_secret_key(missing)
    assert key.startswith(DEVELOPMENT_KEY_PREFIX)
    assert development_secret_key(missing) == key
    assert not missing.exists()
    assert key != key_of(tmp_path)


def test_a_damaged_key_file_is_reported_not_used_nor_echoed(tmp_path) -> None:
    (tmp_path / DEVELOPMENT_KEY_FILE).write_text("short-Zq8-secretish")
    with pytest.raises(ValueError, match="does not hold a development key") as raised:
        development_secret_key(tmp_path)
    assert isinstance(raised.value, DevelopmentKeyError)
    assert str(tmp_path / DEVELOPMENT_KEY_FILE) in str(raised.value)
    assert "Zq8" not in str(raised.value)


def test_check_deploy_reports_the_development_key(tmp_path, clean_env) -> None:
    key = key_of(tmp_path)
    with override_settings(SECRET_KEY=key, BASE_DIR=tmp_path):
        [warning] = check_development_key()
    assert warning.id == "django_cfg.W020"
    assert str(tmp_path / DEVELOPMENT_KEY_FILE) in warning.msg
    assert key not in warning.msg + str(warning.hint)
    with override_settings(SECRET_KEY=PRODUCTION_KEY):
        assert check_development_key() == []


def test_check_deploy_on_the_example_project_names_w020(tmp_path) -> None:
    project = ExampleProject.copy(tmp_path)
    output = project.manage("check", "--deploy", check=False)
    assert "django_cfg.W020" in output
    key = (project.root / DEVELOPMENT_KEY_FILE).read_text().strip()
    assert key not in output
    assert "django_cfg.W020" not in project.manage("check", check=False)  # deploy checks only


# --- production: no development key, no fallback database -----------------------------------------


@pytest.mark.parametrize(
    ("environment", "debug", "reason"),
    [
        ("prod", None, "debug is False"),
        ("staging", True, "outside the dev and test environments"),
        ("dev", False, "debug is False"),
    ],
)
def test_an_unset_key_outside_development_fails_with_the_fix(environment, debug, reason) -> None:
    fields = {"debug": debug} if debug is not None else {}
    for unset in (None, "", SecretStr("")):
        with pytest.raises(ValidationError, match=f"secret_key is required when {reason}"):
            DjangoConfig(
                databases={"default": SQLITE}, environment=environment, secret_key=unset, **fields
            )


def test_none_is_not_set_in_development_not_an_empty_key(tmp_path, clean_env) -> None:
    class Environment(EnvSettings):  # as docs/configuration.md documents it
        config_dir = tmp_path
        secret_key: SecretStr | None = None
        database: DatabaseURLs = DatabaseURLs()

    env = Environment()

    class Config(DjangoConfig):
        base_dir = tmp_path
        secret_key = env.secret_key  # None
        databases = {"default": SQLITE}

    assert Config().get_all_settings()["SECRET_KEY"] == key_of(tmp_path)


def test_production_refuses_the_spec_loaders_sqlite_default(clean_env) -> None:
    def config() -> DjangoConfig:
        return DjangoConfig(
            environment="prod",
            secret_key=PRODUCTION_KEY,
            databases={
                "default": DatabaseConfig.from_url("sqlite:///db/default.sqlite3"),
                "blog_db": DatabaseConfig.from_url("sqlite:///db/blog.sqlite3"),
            },
        )

    with pytest.raises(ValidationError) as raised:
        config()
    message = str(raised.value)
    assert "databases['default'] is sqlite:///db/default.sqlite3" in message
    assert "DATABASE__URL is not set;" in message
    assert "DATABASE__URL_BLOG is not set in the process environment" in message
    clean_env.setenv("DATABASE__URL", "sqlite:///db/default.sqlite3")  # on purpose
    clean_env.setenv("DATABASE_URL_BLOG", "sqlite:///db/blog.sqlite3")  # either spelling
    assert config().environment == "prod"


def test_development_keeps_the_sqlite_defaults(clean_env) -> None:
    config = DjangoConfig(
        databases={"default": DatabaseConfig.from_url("sqlite:///db/default.sqlite3")}
    )
    assert config.environment == "dev"


def environment_class(folder: Path) -> type[EnvSettings]:
    class Environment(EnvSettings):
        config_dir = folder
        secret_key: SecretStr | None = None
        database: DatabaseURLs = DatabaseURLs()

    return Environment


def test_malformed_env_prod_line_fails_naming_variable_file_and_line(tmp_path, clean_env) -> None:
    clean_env.setenv("DJANGO_ENV", "prod")
    (tmp_path / ".env.prod").write_text(
        f"SECRET_KEY={PRODUCTION_KEY}\n"
        f'DATABASE__URL="postgresql://app:{PASSWORD}@db.example.com/main\n'  # no closing quote
        "DATABASE__URL_BLOG=postgresql://app@db.example.com/blog\n"
    )
    with pytest.raises(ProductionSettingsError) as raised:
        environment_class(tmp_path)()
    message = str(raised.value)
    assert "DATABASE__URL (or DATABASE_URL): not set" in message
    assert "built-in default sqlite:///db/default.sqlite3" in message
    assert f"in {tmp_path}: .env (not found), .env.prod (read), config.prod.yaml (not found)" in (
        message
    )
    assert f"{tmp_path / '.env.prod'}, line 2 (sets DATABASE__URL)" in message
    assert "DATABASE__URL_BLOG" not in message  # the next line was read
    assert "SECRET_KEY" not in message  # it was set
    for secret in (PASSWORD, PRODUCTION_KEY):
        assert secret not in message
    assert isinstance(raised.value, ValueError)


def test_unset_secret_key_in_production_env_settings_names_secret_key(tmp_path, clean_env) -> None:
    clean_env.setenv("DJANGO_ENV", "staging")
    clean_env.setenv("DATABASE__URL", "postgresql://app@db.example.com/main")
    (tmp_path / ".env").write_text("SECRET_KEY=\n")
    with pytest.raises(ProductionSettingsError, match="SECRET_KEY: not set or empty") as raised:
        environment_class(tmp_path)()
    assert "'staging' environment" in str(raised.value)
    assert "DATABASE__URL" not in str(raised.value)


def test_production_env_settings_with_everything_set_load(tmp_path, clean_env) -> None:
    clean_env.setenv("DJANGO_ENV", "prod")
    (tmp_path / ".env.prod").write_text(
        f'SECRET_KEY="{PRODUCTION_KEY}"\nDATABASE__URL="sqlite:///db/default.sqlite3"\n'
    )
    env = environment_class(tmp_path)()  # SQLite on purpose: set explicitly, so allowed
    assert env.database.url == SecretStr("sqlite:///db/default.sqlite3")  # type: ignore[attr-defined]


def test_production_django_config_accepts_sqlite_set_in_env_prod(tmp_path, clean_env) -> None:
    # The variable is in .env.prod, not the process environment: EnvSettings read it, so the
    # specification loader's name rule (which sees only os.environ) must not refuse it.
    clean_env.setenv("DJANGO_ENV", "prod")
    (tmp_path / ".env.prod").write_text(
        f'SECRET_KEY="{PRODUCTION_KEY}"\nDATABASE__URL="sqlite:///db/default.sqlite3"\n'
    )
    env = environment_class(tmp_path)()
    config = DjangoConfig(
        secret_key=env.secret_key,
        databases=databases_from_urls(env.database),  # type: ignore[attr-defined]
    )
    assert config.databases["default"].name == "db/default.sqlite3"
    with pytest.raises(ValidationError, match="DATABASE__URL is not set"):
        DjangoConfig(  # the same URL as a plain string: the name rule applies
            secret_key=env.secret_key,
            databases={"default": DatabaseConfig.from_url("sqlite:///db/default.sqlite3")},
        )


ENV_PROJECT_ENVIRONMENT = """\
from pydantic import SecretStr
from django_cfg import DatabaseURLs, EnvSettings

class Environment(EnvSettings):
    secret_key: SecretStr | None = None
    database: DatabaseURLs = DatabaseURLs()

env = Environment()
"""

ENV_PROJECT_CONFIG = """\
from django_cfg import DjangoConfig, databases_from_urls
from .environment import env

class MyDjangoConfig(DjangoConfig):
    secret_key = env.secret_key
    databases = databases_from_urls(env.database)

config = MyDjangoConfig()
"""


def test_migrate_all_refuses_to_start_in_production_after_a_malformed_line(tmp_path) -> None:
    """The issue's scenario: before, check passed and migrate_all created db/default.sqlite3."""
    for path, text in {
        "api/__init__.py": "",
        "api/environment.py": ENV_PROJECT_ENVIRONMENT,
        "api/config.py": ENV_PROJECT_CONFIG,
        "settings.py": SETTINGS_MODULE,
        "manage.py": MANAGE_PY,
        ".env.prod": textwrap.dedent(f"""\
            SECRET_KEY={PRODUCTION_KEY}
            DATABASE__URL='sqlite:///{tmp_path}/prod.sqlite3?timeout=5
            """),
    }.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    output = run_python(
        "manage.py",
        "migrate_all",
        "--noinput",
        cwd=tmp_path,
        env={"DJANGO_ENV": "prod"},
        check=False,
    )
    assert "ProductionSettingsError" in output
    assert "DATABASE__URL (or DATABASE_URL): not set" in output
    assert ".env.prod, line 2 (sets DATABASE__URL)" in output
    assert PRODUCTION_KEY not in output
    assert not (tmp_path / "db").exists()
    assert not (tmp_path / "prod.sqlite3").exists()
    # the same project in development runs on the defaults, with its own development key
    run_python("manage.py", "migrate_all", "--noinput", cwd=tmp_path)
    assert (tmp_path / "db" / "default.sqlite3").is_file()
    assert (tmp_path / DEVELOPMENT_KEY_FILE).is_file()


def test_the_example_project_in_production_names_each_missing_variable(tmp_path) -> None:
    project = ExampleProject.copy(tmp_path)
    output = run_python(
        "manage.py",
        "check",
        cwd=project.root,
        env={"DJANGO_ENV": "prod", "DATABASE__URL": f"sqlite:///{tmp_path}/main.sqlite3"},
        check=False,
    )
    assert "DATABASE__URL_BLOG is not set;" in output
    assert "DATABASE__URL_SHOP is not set in the process environment" in output
    assert "DATABASE__URL is not set" not in output
    assert "secret_key is required when debug is False" in output  # the spec's config sets none
    assert not (project.root / "db").exists()


def test_an_optional_database_group_without_a_default_is_no_fallback(tmp_path, clean_env) -> None:
    class OptionalURLs(DatabaseURLs):
        url: SecretStr | None = None

    class Environment(EnvSettings):
        config_dir = tmp_path
        database: DatabaseURLs = DatabaseURLs()
        archive: OptionalURLs = OptionalURLs()

    clean_env.setenv("DJANGO_ENV", "prod")
    with pytest.raises(ProductionSettingsError) as raised:
        Environment()
    assert "DATABASE__URL" in str(raised.value)
    assert "ARCHIVE" not in str(raised.value)
    clean_env.setenv("DATABASE__URL", "postgresql://app@db.example.com/main")
    assert Environment().archive.url is None  # type: ignore[attr-defined]
