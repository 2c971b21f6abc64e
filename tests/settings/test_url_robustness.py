"""Every URL or config failure is a DatabaseURLError (a ValueError) or a ValidationError.

No RuntimeError, OSError, RecursionError, UnicodeEncodeError or bare ValueError escapes, whatever
the URL; only ASCII digits make a port; errors name the URL key, alias or file they concern.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_core import PydanticCustomError

from django_cfg import (
    DatabaseConfig,
    DatabaseURLError,
    DatabaseURLs,
    DjangoConfig,
    EnvSettings,
    databases_from_urls,
)
from django_cfg.settings.env_settings import ConfigFileError
from django_cfg.settings.hidden_input import hidden_input_validator

ROBUSTNESS_ROUNDS = 5_000

FAILING_URLS = [
    ("postgresql://u:p@h:²/d", "port after the host is not a number"),
    (
        "postgresql://u:p@h:\uff15\uff14\uff13\uff12/d",
        "port after the host is not a number",
    ),  # full-width
    ("postgresql://u:p@h:\u0665\u0664/d", "port after the host is not a number"),  # Arabic-Indic
    ("postgresql://u:p\udcff@h/d", r"lone surrogate .* at character 17"),
    ("postgresql://u:p\x00@h/d", "NUL character at character 17"),
    ("postgresql://u:p%00@h/d", "the password contains a NUL character"),
    ("sqlite:///db/a%00b.sqlite3", "NUL character"),
    ("sqlite:///" + "a" * 300 + "/x.sqlite3", "part 1 of the file path is 300 bytes long"),
    ("sqlite:///" + "a/" * 2100 + "x", "file path is 4201 bytes long"),
    ("postgresql:/app:pw@db/main", "not a database URL"),
    ("postgresql:/app:x://y@db/main", "does not start with a known scheme"),
    ("postgrsql://app@db/main", "did you mean 'postgresql'?"),
]


@pytest.mark.parametrize(("url", "message"), FAILING_URLS)
def test_malformed_url_raises_database_url_error(url: str, message: str) -> None:
    with pytest.raises(DatabaseURLError, match=message):
        DatabaseConfig.from_url(url)


@pytest.mark.parametrize("value", [None, 5, b"postgresql://app@db/main"])
def test_a_url_that_is_not_text_raises_database_url_error(value: object) -> None:
    with pytest.raises(DatabaseURLError, match="must be text"):
        DatabaseConfig.from_url(value)  # type: ignore[arg-type]


def test_unknown_home_directory_raises_database_url_error_naming_the_alias() -> None:
    config = DjangoConfig(
        databases={"default": DatabaseConfig.from_url("sqlite:///~no_such_user_x9/db.sqlite3")}
    )
    with pytest.raises(DatabaseURLError, match=r"databases\['default'\]: .*home directory"):
        config.get_all_settings()


def test_uncreatable_sqlite_folder_raises_database_url_error_naming_the_alias(tmp_path) -> None:
    (tmp_path / "file").write_text("not a folder")
    config = DjangoConfig(
        databases={
            "default": DatabaseConfig.from_url("sqlite://"),
            "logs": DatabaseConfig.from_url("sqlite:///file/inside/logs.sqlite3"),
        },
        base_dir=tmp_path,
    )
    with pytest.raises(DatabaseURLError, match=r"databases\['logs'\]: .*cannot create the folder"):
        config.get_all_settings()


def test_only_ascii_digits_make_a_port() -> None:
    digits = [chr(c) for c in range(0x110000) if chr(c).isdigit() and not chr(c).isascii()]
    assert len(digits) > 100  # Unicode has hundreds: superscripts, full-width, ...
    for digit in digits:
        with pytest.raises(DatabaseURLError, match="not a number"):
            DatabaseConfig.from_url(f"postgresql://app@db:54{digit}2/main")
    for port in (1, 80, 5432, 65535):
        assert DatabaseConfig.from_url(f"postgresql://app@db:{port}/main").port == port


def test_an_all_digit_password_read_as_an_out_of_range_port_is_not_echoed() -> None:
    # No '@': the password stands where the port is read (postgresql://app:<password>/main).
    with pytest.raises(DatabaseURLError) as raised:
        DatabaseConfig.from_url("postgresql://app:987654/main")
    assert "out of range" in str(raised.value)
    assert "987" not in str(raised.value)


# fmt: off
FRAGMENTS = [
    "postgresql://", "mysql://", "sqlite:///", "oracle://", "postgrsql://", "://", ":", "@", "/",
    "?", "#", "&", "=", "%", "%00", "%zz", "%2F", "[", "]", "::1", "~", "~nouser/", "..", "app",
    "db", "main", "5432", "99999", "\u00b2", "\uff15", "\udcff", "\x00", " ", "\t", "\u00e9",
    "\U0001f600", "sslmode=", "require", "pool=true", "conn_max_age=", "-1", "password=", "a" * 300,
]
# fmt: on


def garbage_url(rng: random.Random) -> str:
    return "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 12)))


def test_any_text_gives_a_config_or_a_value_error(tmp_path: Path) -> None:
    rng = random.Random(1125)
    outcomes = {"ok": 0, "DatabaseURLError": 0, "ValidationError": 0}
    for _ in range(ROBUSTNESS_ROUNDS):
        url = garbage_url(rng)
        try:
            database = DatabaseConfig.from_url(url)
            str(database), repr(database), database.model_dump_json()
            if not database.name.startswith(("/", "~")):  # never create folders outside tmp
                database.to_django(base_dir=tmp_path)
            outcomes["ok"] += 1
        except (DatabaseURLError, ValidationError) as error:
            str(error), repr(error)
            outcomes[type(error).__name__] += 1
    assert outcomes["ok"] > 50
    assert outcomes["DatabaseURLError"] > ROBUSTNESS_ROUNDS // 2


def test_direct_fields_with_surrogates_still_render() -> None:
    database = DatabaseConfig(engine="django.db.backends.mysql", name="m\udcff", user="\udcffx")
    assert database.redacted_url == "mysql://%ED%B3%BFx@/m%ED%B3%BF"


def test_url_errors_name_the_url_key_and_alias() -> None:
    expected = (
        r"^databases\['blog_db'\]: database URL url_blog \(e\.g\. variable DATABASE__URL_BLOG\): "
        r"postgresql://\*\*\*@db/blog: ambiguous URL"
    )
    with pytest.raises(DatabaseURLError, match=expected):
        databases_from_urls({"url": "sqlite://", "url_blog": "postgresql://app:a/b@db/blog"})


def test_a_url_read_by_env_settings_names_its_variable(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE__URL_BLOG", "postgresql://app:2024/Summer?!@db/blog")

    class Environment(EnvSettings):
        config_dir = tmp_path
        database: DatabaseURLs = DatabaseURLs()

    env = Environment()
    with pytest.raises(DatabaseURLError) as raised:
        DatabaseConfig.from_url(env.database.url_blog)
    assert str(raised.value).startswith(
        "database URL url_blog (e.g. variable DATABASE__URL_BLOG): postgresql://***@db/blog: "
        "ambiguous URL"
    )
    assert "Summer" not in str(raised.value)
    assert env.database.url_blog == SecretStr("postgresql://app:2024/Summer?!@db/blog")


def test_field_errors_from_databases_from_urls_name_the_alias_and_hide_the_value() -> None:
    with pytest.raises(ValidationError) as raised:
        databases_from_urls({"url": "postgresql://app@db/main"}, default={"port": "Hunter2"})
    (error,) = raised.value.errors()
    assert error["loc"] == ("default", "port")
    assert error["input"] == "<hidden str>"
    assert "Hunter2" not in raised.value.json()


def test_a_url_given_where_a_database_config_belongs_says_how_to_fix_it() -> None:
    with pytest.raises(ValidationError) as raised:
        DjangoConfig(databases={"default": "postgresql://app:Hunter2@db/main"})
    (error,) = raised.value.errors()
    assert error["loc"] == ("databases", "default")
    assert "DatabaseConfig.from_url(url)" in error["msg"]
    assert "Hunter2" not in str(raised.value.errors()) + raised.value.json() + repr(raised.value)


def test_a_short_secret_key_is_not_in_the_error() -> None:
    with pytest.raises(ValidationError) as raised:
        DjangoConfig(
            databases={"default": DatabaseConfig.from_url("sqlite://")},
            debug=False,
            secret_key="short-Hunter2",
        )
    text = str(raised.value.errors()) + raised.value.json() + repr(raised.value) + str(raised.value)
    assert "secret_key has 13 characters" in text
    assert "Hunter2" not in text


def test_custom_error_types_keep_their_message_and_lose_their_input() -> None:
    class Model(BaseModel):
        value: str
        _hide_input = hidden_input_validator()

        def model_post_init(self, context: object) -> None:
            raise PydanticCustomError("too_secret", "value {name} is wrong", {"name": "x"})

    with pytest.raises(ValidationError) as raised:
        Model(value="Hunter2")
    (error,) = raised.value.errors()
    assert (error["type"], error["msg"], error["input"]) == (
        "too_secret",
        "value x is wrong",
        "<hidden dict>",
    )


def test_malformed_yaml_is_a_value_error_that_does_not_quote_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_ENV", "prod")
    (tmp_path / "config.prod.yaml").write_text(
        'database:\n  url: "postgresql://app:Hunter2@db/main\n  url_blog: [\n'
    )

    class Environment(EnvSettings):
        config_dir = tmp_path
        secret_key: SecretStr | None = None
        database: DatabaseURLs = DatabaseURLs()

    with pytest.raises(ConfigFileError, match=r"config\.prod\.yaml is not valid YAML .*line 2"):
        Environment()
    with pytest.raises(ValueError, match="not valid YAML") as raised:
        Environment()
    assert "Hunter2" not in str(raised.value) + repr(raised.value)


def test_a_numeric_secret_key_in_yaml_is_refused_without_its_digits(tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_ENV", "prod")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    key = "73940261857302918475610293847561029384756102938475610293"
    (tmp_path / "config.prod.yaml").write_text(f"secret_key: {key}\n")

    class Environment(EnvSettings):
        config_dir = tmp_path
        secret_key: SecretStr | None = None

    with pytest.raises(ValidationError) as raised:
        Environment()
    text = str(raised.value) + repr(raised.value) + raised.value.json()
    assert raised.value.errors()[0]["loc"] == ("secret_key",)
    assert raised.value.errors()[0]["input"] == "<hidden int>"
    assert not any(key[i : i + 3] in text for i in range(len(key) - 2)), text


@pytest.mark.parametrize("file_name", ["config.prod.yaml", ".env", ".env.prod"])
def test_a_settings_file_that_is_not_utf8_is_a_config_file_error_without_its_content(
    tmp_path, monkeypatch, file_name: str
) -> None:
    monkeypatch.setenv("DJANGO_ENV", "prod")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    (tmp_path / file_name).write_bytes(b"SECRET_KEY=Hunter2-\xff\xfe-Secret\n")

    class Environment(EnvSettings):
        config_dir = tmp_path
        secret_key: SecretStr | None = None

    with pytest.raises(ConfigFileError, match=rf"{re.escape(file_name)} is not UTF-8") as raised:
        Environment()
    assert "Hunter2" not in str(raised.value) + repr(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__
