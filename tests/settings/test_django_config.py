"""DjangoConfig: overrides without annotations, defaults, validation, the settings it renders."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from django_cfg import DatabaseConfig, DjangoConfig
from django_cfg.settings.django_config import DEVELOPMENT_KEY_PREFIX

SQLITE = DatabaseConfig.from_url("sqlite://")
PRODUCTION_KEY = "k" * 60


def test_fields_may_be_overridden_without_annotations_even_inside_an_if() -> None:
    replica_wanted = True

    class Config(DjangoConfig):
        databases = {"default": SQLITE}
        if replica_wanted:
            databases["replica"] = DatabaseConfig.from_url("postgresql://replica-host/app")
            database_routers = ["myapp.routers.ReadReplicaRouter"]

    settings = Config().get_all_settings()
    assert list(settings["DATABASES"]) == ["default", "replica"]
    assert settings["DATABASES"]["replica"]["HOST"] == "replica-host"
    assert settings["DATABASE_ROUTERS"] == [
        "myapp.routers.ReadReplicaRouter",  # the user's router first
        "django_cfg.routing.router.DatabaseRouter",
    ]


def test_annotated_overrides_keep_working() -> None:
    class Config(DjangoConfig):
        databases: dict[str, DatabaseConfig] = {"default": SQLITE}
        project_name: str = "annotated"

    assert Config().project_name == "annotated"


def test_unannotated_override_is_validated_against_the_inherited_type() -> None:
    class Config(DjangoConfig):
        databases = {"default": SQLITE}
        debug = "not a boolean"

    with pytest.raises(ValidationError, match="debug"):
        Config()


def test_only_databases_set_works_in_development(monkeypatch) -> None:
    monkeypatch.delenv("DJANGO_ENV", raising=False)

    class Config(DjangoConfig):
        databases = {"default": SQLITE}

    config = Config()
    assert (config.environment, config.debug) == ("dev", True)
    assert config.get_all_settings()["SECRET_KEY"].startswith(DEVELOPMENT_KEY_PREFIX)


def test_production_requires_a_long_secret_key(monkeypatch) -> None:
    monkeypatch.setenv("DJANGO_ENV", "production")

    class Config(DjangoConfig):
        databases = {"default": SQLITE}

    with pytest.raises(ValidationError, match="secret_key is required when debug is False"):
        Config()
    with pytest.raises(ValidationError, match="has 10 characters; at least 50"):
        Config(secret_key=SecretStr("0123456789"))
    config = Config(secret_key=SecretStr(PRODUCTION_KEY))
    assert (config.environment, config.debug) == ("prod", False)
    assert config.get_all_settings()["SECRET_KEY"] == PRODUCTION_KEY


def test_development_key_is_refused_when_debug_is_off() -> None:
    class Config(DjangoConfig):
        databases = {"default": SQLITE}

    development_key = Config(debug=True).secret_key
    with pytest.raises(ValidationError, match="development key"):
        Config(debug=False, secret_key=development_key)


def test_secret_key_is_never_shown() -> None:
    class Config(DjangoConfig):
        databases = {"default": SQLITE}

    config = Config(debug=False, secret_key=SecretStr(PRODUCTION_KEY))
    for shown in (repr(config), str(config), config.model_dump_json(), str(config.model_dump())):
        assert PRODUCTION_KEY not in shown


def test_default_database_is_required() -> None:
    class Config(DjangoConfig):
        databases = {"main": SQLITE}

    with pytest.raises(ValidationError, match=r"databases must contain 'default'.*got 'main'"):
        Config()


@pytest.mark.parametrize(
    ("databases", "message"),
    [
        (
            {"default": SQLITE, "r": DatabaseConfig.from_url("sqlite://", replica_of="nope")},
            r"databases\['r'\]: replica_of='nope' is not another configured alias",
        ),
        (
            {"default": SQLITE, "r": DatabaseConfig.from_url("sqlite://", replica_of="r")},
            r"replica_of='r' is not another configured alias",
        ),
        (
            {
                "default": SQLITE,
                "r1": DatabaseConfig.from_url("sqlite://", replica_of="default"),
                "r2": DatabaseConfig.from_url("sqlite://", replica_of="r1"),
            },
            r"databases\['r2'\]: replica_of='r1' is itself a replica",
        ),
        (
            {
                "default": DatabaseConfig.from_url("sqlite://", apps=["blog"]),
                "blog_db": DatabaseConfig.from_url("sqlite://", apps=["blog"]),
            },
            r"app 'blog' is listed in apps of both databases\['default'\] and "
            r"databases\['blog_db'\]",
        ),
    ],
)
def test_routing_fields_are_validated_with_the_alias_named(databases, message) -> None:
    with pytest.raises(ValidationError, match=message):
        DjangoConfig(databases=databases)


def test_a_replica_cannot_be_the_home_of_apps() -> None:
    with pytest.raises(ValidationError, match="a replica serves the apps of its primary 'default'"):
        DatabaseConfig.from_url("postgresql://h/d", replica_of="default", apps=["blog"])


def test_misspelt_field_is_rejected() -> None:
    with pytest.raises(ValidationError, match="field app: Extra inputs are not permitted"):
        DatabaseConfig.from_url("sqlite://", app=["blog"])


def test_installed_apps_order_contrib_then_django_cfg_then_project_apps() -> None:
    settings = DjangoConfig(
        databases={"default": SQLITE}, project_apps=["apps.blog"]
    ).get_all_settings()
    apps = settings["INSTALLED_APPS"]
    assert apps[:6] == [
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
        "django.contrib.staticfiles",
    ]
    assert apps[6:] == ["django_cfg", "apps.blog"]


def test_apps_on_databases_become_routing_rules() -> None:
    config = DjangoConfig(
        databases={
            "default": SQLITE,
            "blog_db": DatabaseConfig.from_url("sqlite://", apps=["blog"]),
            "shop_db": DatabaseConfig.from_url("sqlite://", apps=["shop", "billing"]),
        }
    )
    assert config.get_all_settings()["DATABASE_ROUTING_RULES"] == {
        "blog": "blog_db",
        "shop": "shop_db",
        "billing": "shop_db",
    }


def test_router_is_installed_with_a_second_database_only() -> None:
    router = "django_cfg.routing.router.DatabaseRouter"
    single = DjangoConfig(databases={"default": SQLITE}).get_all_settings()
    assert single["DATABASE_ROUTERS"] == []
    assert "DATABASE_ROLES" not in single
    double = DjangoConfig(
        databases={"default": SQLITE, "blog_db": DatabaseConfig.from_url("sqlite://")}
    ).get_all_settings()
    assert double["DATABASE_ROUTERS"] == [router]


def test_roles_are_rendered_for_the_router() -> None:
    config = DjangoConfig(
        databases={
            "default": SQLITE,
            "blog_db": DatabaseConfig.from_url("sqlite://", apps=["blog"]),
            "replica": DatabaseConfig.from_url("sqlite://", replica_of="default", read_weight=4),
            "analytics": DatabaseConfig.from_url("sqlite://", read_only=True),
        },
        cross_database_relations=False,
    )
    settings = config.get_all_settings()
    assert settings["DATABASE_ROLES"] == {
        "blog_db": {"apps": ["blog"]},
        "replica": {"replica_of": "default", "read_weight": 4.0},
        "analytics": {"read_only": True},
    }
    assert settings["DATABASE_CROSS_RELATIONS"] is False


def test_rendered_settings_are_complete_for_a_django_project(tmp_path: Path) -> None:
    config = DjangoConfig(
        databases={"default": DatabaseConfig.from_url("sqlite:///db/default.sqlite3")},
        base_dir=tmp_path,
        root_urlconf="api.urls",
        static_root=tmp_path / "static",
        time_zone="Europe/Paris",
        allowed_hosts=["example.com"],
    )
    settings = config.get_all_settings()
    assert settings["DATABASES"]["default"]["NAME"] == str(tmp_path / "db" / "default.sqlite3")
    assert settings["ROOT_URLCONF"] == "api.urls"
    assert settings["STATIC_ROOT"] == tmp_path / "static"
    assert settings["TIME_ZONE"] == "Europe/Paris"
    assert settings["ALLOWED_HOSTS"] == ["example.com"]
    assert settings["DEFAULT_AUTO_FIELD"] == "django.db.models.BigAutoField"
    assert settings["TEMPLATES"][0]["BACKEND"] == "django.template.backends.django.DjangoTemplates"
    assert "django.contrib.sessions.middleware.SessionMiddleware" in settings["MIDDLEWARE"]
    assert "WSGI_APPLICATION" not in settings  # unset optional settings are left to Django


def test_base_dir_defaults_to_the_folder_holding_the_config_package() -> None:
    class Config(DjangoConfig):
        databases = {"default": SQLITE}

    # defined in tests/settings/test_django_config.py -> top-level package 'tests' -> repo root
    assert Config().project_dir == Path(__file__).resolve().parents[2]
    assert Config(base_dir=Path("/srv/app")).project_dir == Path("/srv/app")


def test_extra_settings_add_and_override_last() -> None:
    config = DjangoConfig(
        databases={"default": SQLITE},
        extra_settings={
            "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
            "TIME_ZONE": "Asia/Tokyo",
        },
    )
    settings = config.get_all_settings()
    assert settings["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert settings["TIME_ZONE"] == "Asia/Tokyo"
    with pytest.raises(ValidationError, match="email_backend must be upper case"):
        DjangoConfig(databases={"default": SQLITE}, extra_settings={"email_backend": "x"})


def test_subclasses_add_typed_settings_by_extending_get_all_settings() -> None:
    class Config(DjangoConfig):
        databases = {"default": SQLITE}
        session_cookie_age: int = 3600

        def get_all_settings(self) -> dict[str, object]:
            return {**super().get_all_settings(), "SESSION_COOKIE_AGE": self.session_cookie_age}

    assert Config(session_cookie_age=60).get_all_settings()["SESSION_COOKIE_AGE"] == 60


def test_a_replica_is_the_test_mirror_of_its_primary() -> None:
    config = DjangoConfig(
        databases={
            "default": DatabaseConfig.from_url("postgresql://primary/app"),
            "replica": DatabaseConfig.from_url("postgresql://standby/app", replica_of="default"),
        }
    )
    assert config.get_all_settings()["DATABASES"]["replica"]["TEST"] == {"MIRROR": "default"}


def test_a_read_only_postgresql_database_opens_read_only_transactions() -> None:
    warehouse = DatabaseConfig.from_url(
        "postgresql://wh/analytics?options=-c%20statement_timeout%3D5000", read_only=True
    )
    assert warehouse.to_django()["OPTIONS"]["options"] == (
        "-c statement_timeout=5000 -c default_transaction_read_only=on"
    )


def test_a_config_class_defined_in_a_function_builds_with_the_functions_names() -> None:
    """``from __future__ import annotations`` and a config class in a function (a test, a
    script): its annotations name the function's imports, resolved when it is instantiated."""
    namespace: dict[str, object] = {}
    exec(
        "from __future__ import annotations\n"
        "def configure():\n"
        "    from django_cfg import DatabaseConfig as Local, DjangoConfig\n"
        "    class InFunction(DjangoConfig):\n"
        "        databases: dict[str, Local] = {'default': Local.from_url('sqlite:///x.db')}\n"
        "    return InFunction(secret_key='k' * 50)\n",
        namespace,
    )
    config = namespace["configure"]()  # type: ignore[operator]
    assert config.get_all_settings()["DATABASES"]["default"]["NAME"].endswith("x.db")
