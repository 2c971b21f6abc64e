"""``DjangoConfig``'s ``tenants``, ``caches`` and ``email`` name their models
(``settings/model_on_use.py``): a project that sets none never defines them, one that does gets
the same validation, errors, dumps and JSON schema as if the models were declared directly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from django_cfg import DatabaseConfig, DjangoConfig
from django_cfg.settings.caches import CacheConfig
from django_cfg.settings.email import EmailConfig
from django_cfg.settings.tenants import TenantsConfig
from tests.support.spec_page import run_python

PASSWORD = "on-use-password-4b7c"


class Config(DjangoConfig):
    secret_key = "model-on-use-key-" + "k" * 40
    databases = {"default": DatabaseConfig.from_url("sqlite://")}


def test_plain_values_become_the_models_and_instances_pass_as_they_are() -> None:
    tenants = TenantsConfig(apps=["blog"], url="sqlite:///t/{tenant}.sqlite3")
    config = Config(
        tenants=tenants,
        caches={"default": "locmem://one", "other": {"backend": "locmem", "location": "two"}},
        email={"backend": "django.core.mail.backends.console.EmailBackend"},
    )
    assert config.tenants is tenants
    assert {type(cache) for cache in config.caches.values()} == {CacheConfig}
    assert config.caches["other"].location == "two"
    assert type(config.email) is EmailConfig
    rendered = config.get_all_settings()
    assert rendered["CACHES"]["other"]["LOCATION"] == "two"
    assert rendered["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"


def test_an_error_inside_a_nested_model_names_its_place_and_never_its_password() -> None:
    with pytest.raises(ValidationError) as caught:
        Config(
            tenants={"apps": [7], "url": f"postgresql://app:{PASSWORD}@db/t_{{tenant}}"},
            caches={"default": {"backend": "locmem", "nonsense": PASSWORD}},
        )
    text = str(caught.value)
    assert "tenants.apps.0" in text
    assert "caches.default.nonsense" in text
    assert PASSWORD not in text
    assert PASSWORD not in json.dumps(caught.value.errors(include_url=False), default=str)


def test_dumps_hide_secrets_and_the_json_schema_is_the_models() -> None:
    config = Config(tenants={"apps": ["blog"], "url": f"postgresql://a:{PASSWORD}@db/t_{{tenant}}"})
    assert PASSWORD not in config.model_dump_json()
    assert PASSWORD not in repr(config)
    schema = Config.model_json_schema()["properties"]
    tenants, email = schema["tenants"]["anyOf"][0], schema["email"]["anyOf"][0]
    caches = schema["caches"]["anyOf"][0]["additionalProperties"]
    assert {"apps", "url", "resolver"} <= set(tenants["properties"])
    assert {"backend", "host", "use_tls"} <= set(email["properties"])
    assert {"backend", "location"} <= set(caches["properties"])


def test_dumps_are_the_declared_models_not_a_subclass_of_them() -> None:
    class OwnCache(CacheConfig):
        note: str = PASSWORD  # a field the declared model does not have: never dumped

    config = Config(caches={"default": OwnCache(backend="locmem")}, email="console://")
    assert PASSWORD not in config.model_dump_json()
    assert PASSWORD not in str(config.model_dump())
    dumped = config.model_dump(mode="json", include={"caches": {"default": {"backend"}}})
    assert dumped == {"caches": {"default": {"backend": "locmem"}}}
    assert config.model_dump(exclude={"email": {"backend"}})["email"]["host"] == "localhost"


def test_the_tenant_names_are_still_importable_from_their_former_module() -> None:
    from django_cfg.settings import tenant_names, tenants

    assert tenants.tenant_alias is tenant_names.tenant_alias
    assert tenants.template_text is tenant_names.template_text


def test_a_fresh_process_defines_the_models_only_when_a_value_needs_them() -> None:
    script = (
        "import sys\n"
        "from django_cfg import DatabaseConfig, DjangoConfig\n"
        "class C(DjangoConfig):\n"
        "    secret_key = 'k' * 60\n"
        "    databases = {'default': DatabaseConfig.from_url('sqlite://')}\n"
        "C().get_all_settings()\n"
        "print(sorted(m for m in ('django_cfg.settings.tenants', 'django_cfg.settings.caches',"
        " 'django_cfg.settings.email') if m in sys.modules))\n"
        "C(email='console://')\n"
        "print(sorted(m for m in ('django_cfg.settings.tenants', 'django_cfg.settings.caches',"
        " 'django_cfg.settings.email') if m in sys.modules))\n"
    )
    first, second = run_python("-c", script, cwd=Path(__file__).parent).strip().splitlines()[-2:]
    assert first == "[]"
    assert second == "['django_cfg.settings.email']"
