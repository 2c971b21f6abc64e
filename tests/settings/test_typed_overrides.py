"""Every DjangoConfig field overridden in a subclass, with or without an annotation.

The fields are enumerated from the model, so a new field is covered as soon as it exists (its
type needs a sample below, or the test says so). Secrets accept ``str`` or ``SecretStr`` under
any annotation and stay hidden; None means "not set".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from django_cfg import CacheConfig, DatabaseConfig, DjangoConfig, EmailConfig, TenantsConfig
from django_cfg.settings.development_key import DEVELOPMENT_KEY_PREFIX

KEY = "typed-override-key-" + "k" * 40
DATABASES = {
    "default": DatabaseConfig.from_url("sqlite://"),
    "replica": DatabaseConfig.from_url("sqlite://", replica_of="default"),
}
BASE: dict[str, Any] = {"databases": DATABASES, "secret_key": KEY}

# A value of each field type that differs from every default; by the annotation's text.
SAMPLES: dict[str, Any] = {
    "str": "sample-value",
    "bool": None,  # the opposite of the field's default
    "float": 2.5,
    "list[str]": ["sample.entry"],
    "Path | None": Path("/srv/sample"),
    "str | None": "sample.module",
    "dict[str, DatabaseConfig]": {**DATABASES, "extra_db": DatabaseConfig.from_url("sqlite://")},
    "dict[str, Any]": {"SAMPLE_SETTING": 1},
    "list[dict[str, Any]]": [{"BACKEND": "sample.Backend", "APP_DIRS": False, "OPTIONS": {}}],
    "SecretStr | None": "sample-secret-" + "s" * 40,
    "TenantsConfig | None": TenantsConfig(apps=["sample"], url="sqlite:///t/{tenant}.sqlite3"),
    "bool | None": True,  # None (the default) follows debug, which is True here
    "int | None": 3600,
    "tuple[str, str] | None": ("HTTP_X_FORWARDED_PROTO", "https"),
    "tuple[str, ...]": ("sample_app", "sample_app.Model"),
    "dict[str, CacheConfig] | None": {"default": CacheConfig.from_url("locmem://sample")},
    "EmailConfig | None": EmailConfig.from_url("console://"),
    "dict[str, Any] | None": {"version": 1, "root": {"level": "ERROR"}},
    "Optional[Literal['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL']]": "ERROR",
}
NOT_RENDERED = {"project_name"}  # a label for people; no Django setting follows from it


def annotation_text(field_name: str) -> str:
    annotation = DjangoConfig.model_fields[field_name].annotation
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    text = (
        (text or str(annotation))
        .replace("pathlib.", "")
        .replace("pydantic.types.", "")
        .replace("typing.", "")
        .replace("django_cfg.settings.database_config.", "")
    )
    # A model declared by name (settings/model_on_use.py) reads as the model itself.
    text = re.sub(r"^Optional\[Annotated\[object, (\w+)\]\]$", r"\1 | None", text)
    text = re.sub(r"^Optional\[(.*Annotated\[object, \w+\].*)\]$", r"\1 | None", text)
    return re.sub(r"Annotated\[object, (\w+)\]", r"\1", text)


def sample(field_name: str) -> Any:
    text = annotation_text(field_name)
    assert text in SAMPLES, f"add a sample for {text} (field {field_name}) to SAMPLES"
    value = SAMPLES[text]
    if value is None:  # bool
        return not DjangoConfig.model_fields[field_name].default
    return value


def subclass(namespace: dict[str, Any]) -> type[DjangoConfig]:
    body = {k: v for k, v in BASE.items() if k not in namespace}
    return type("Config", (DjangoConfig,), {**body, **namespace})


def expected(field_name: str, value: Any) -> Any:
    return SecretStr(value) if isinstance(value, str) and field_name == "secret_key" else value


FIELDS = sorted(DjangoConfig.model_fields)


@pytest.mark.parametrize("annotated", [False, True], ids=["unannotated", "annotated"])
@pytest.mark.parametrize("field_name", FIELDS)
def test_every_field_can_be_overridden_in_a_subclass(field_name: str, annotated: bool) -> None:
    value = sample(field_name)
    namespace: dict[str, Any] = {field_name: value}
    if annotated:
        namespace["__annotations__"] = {
            field_name: DjangoConfig.model_fields[field_name].annotation
        }
    config = subclass(namespace)()
    assert getattr(config, field_name) == expected(field_name, value)
    rendered = config.get_all_settings()
    baseline = subclass({})().get_all_settings()
    changed = sorted(
        name
        for name in rendered.keys() | baseline.keys()
        if rendered.get(name) != baseline.get(name)
    )
    if field_name in NOT_RENDERED:
        assert changed == []
    else:
        assert changed, f"overriding {field_name} changed no rendered setting"


@pytest.mark.parametrize("field_name", FIELDS)
def test_a_wrong_type_is_refused_naming_the_field(field_name: str) -> None:
    if annotation_text(field_name) in {"str", "str | None", "SecretStr | None"}:
        wrong: Any = ["not", "text"]
    else:
        wrong = object()
    with pytest.raises(ValidationError, match=field_name):
        subclass({field_name: wrong})()


def test_not_rendered_lists_only_existing_fields() -> None:
    assert set(FIELDS) >= NOT_RENDERED


# --- secrets: str or SecretStr, annotated any way; None is "not set" ----------------------------


class AnnotatedStr(DjangoConfig):
    secret_key: str = KEY  # a string annotation here (from __future__ import annotations)
    databases = DATABASES


class AnnotatedSecretStr(DjangoConfig):
    secret_key: SecretStr = SecretStr(KEY)
    databases = DATABASES


class AnnotatedOptionalStr(DjangoConfig):
    secret_key: str | None = KEY
    databases = DATABASES


class Unannotated(DjangoConfig):
    secret_key = KEY
    databases = DATABASES


@pytest.mark.parametrize(
    "config_class", [AnnotatedStr, AnnotatedSecretStr, AnnotatedOptionalStr, Unannotated]
)
def test_secret_key_as_str_or_secretstr_renders_and_stays_hidden(config_class) -> None:
    for debug in (True, False):
        config = config_class(debug=debug)
        assert isinstance(config.secret_key, SecretStr)
        assert config.get_all_settings()["SECRET_KEY"] == KEY
        for shown in (
            repr(config),
            str(config),
            config.model_dump_json(),
            str(config.model_dump()),
        ):
            assert KEY not in shown


def test_secret_key_none_is_the_development_key_in_development(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("DJANGO_ENV", raising=False)

    class Config(DjangoConfig):
        secret_key: str | None = None
        base_dir = tmp_path
        databases = DATABASES

    key = Config().get_all_settings()["SECRET_KEY"]
    assert key.startswith(DEVELOPMENT_KEY_PREFIX)
    assert len(key) > len(DEVELOPMENT_KEY_PREFIX) + 40  # never ''
    monkeypatch.setenv("DJANGO_ENV", "prod")
    with pytest.raises(ValidationError, match="secret_key is required when debug is False"):
        Config()


def test_an_override_inside_an_if_block_keeps_its_type(monkeypatch) -> None:
    use_production_key = True

    class Config(DjangoConfig):
        databases = DATABASES
        if use_production_key:
            secret_key = KEY
            debug = False
            allowed_hosts = ["example.com"]

    settings = Config().get_all_settings()
    assert (settings["SECRET_KEY"], settings["DEBUG"], settings["ALLOWED_HOSTS"]) == (
        KEY,
        False,
        ["example.com"],
    )
