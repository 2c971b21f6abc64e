"""TenantsConfig and what DjangoConfig writes for it (no database needed)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from django_cfg import DatabaseConfig, DjangoConfig, TenantsConfig
from django_cfg.routing.topology import ROUTER_PATH, TENANT_HOME, Topology
from django_cfg.settings.tenants import (
    TENANTS_MIDDLEWARE,
    TENANTS_ROUTER,
    check_tenant_name,
)

SECRET = "s3cr3t-Pa55"


def config(**tenants: object) -> DjangoConfig:
    fields: dict[str, object] = {"apps": ["blog"], "url": "sqlite:///t/{tenant}.sqlite3"}
    fields.update(tenants)
    return DjangoConfig(
        databases={"default": DatabaseConfig.from_url("sqlite://")},
        tenants=TenantsConfig(**fields),  # type: ignore[arg-type]
    )


def test_settings_name_the_tenants_the_router_in_front_and_the_middleware() -> None:
    settings = config(resolver="path", names=["acme", "beta"], max_open=10).get_all_settings()
    assert settings["DJANGO_CFG_TENANTS"] == {
        "apps": ["blog"],
        "url": "sqlite:///t/{tenant}.sqlite3",
        "resolver": "path",
        "header": "X-Tenant",
        "names": ["acme", "beta"],
        "max_open": 10,
        "recheck_seconds": 5.0,
        "passwords": {},
    }
    # one database only, yet both routers: the tenant router first, then the package's
    assert settings["DATABASE_ROUTERS"] == [TENANTS_ROUTER, ROUTER_PATH]
    assert settings["MIDDLEWARE"][1] == TENANTS_MIDDLEWARE
    assert settings["MIDDLEWARE"][0].endswith("SecurityMiddleware")
    assert "django_cfg.tenants" in settings["INSTALLED_APPS"]  # the tenants table's app


def test_without_tenants_nothing_changes() -> None:
    settings = DjangoConfig(
        databases={"default": DatabaseConfig.from_url("sqlite://")}
    ).get_all_settings()
    assert "DJANGO_CFG_TENANTS" not in settings
    assert settings["DATABASE_ROUTERS"] == []
    assert TENANTS_MIDDLEWARE not in settings["MIDDLEWARE"]
    assert "django_cfg.tenants" not in settings["INSTALLED_APPS"]


def test_the_topology_homes_tenant_apps_nowhere_fixed() -> None:
    settings = config().get_all_settings()

    class Source:
        DATABASES = settings["DATABASES"]
        DJANGO_CFG_TENANTS = settings["DJANGO_CFG_TENANTS"]

    topology = Topology.from_settings(Source, app_labels={})
    assert topology.home("blog") == TENANT_HOME
    assert topology.migration_targets == ("default",)


@pytest.mark.parametrize(
    "name",
    ["", "Acme", "a-b", "a.b", "../x", "a/b", "a b", "_a", "x" * 64, "a;drop", "é", "a\x00"],
)
def test_invalid_tenant_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="invalid tenant name"):
        check_tenant_name(name)
    with pytest.raises(ValidationError, match="invalid tenant name"):
        TenantsConfig(apps=["blog"], url="sqlite:///{tenant}.sqlite3", names=[name])


@pytest.mark.parametrize("name", ["a", "acme", "0", "acme_2", "x" * 63])
def test_valid_tenant_names(name: str) -> None:
    assert check_tenant_name(name) == name


def test_the_url_needs_one_placeholder_and_its_password_is_never_shown() -> None:
    with pytest.raises(ValidationError) as error:
        TenantsConfig(apps=["blog"], url=f"postgresql://app:{SECRET}@db/tenants")
    assert "'{tenant}' exactly once" in str(error.value)
    assert SECRET not in str(error.value)
    with pytest.raises(ValidationError) as error:
        TenantsConfig(apps=["blog"], url=f"nosuch://app:{SECRET}@db/t_{{tenant}}")
    assert SECRET not in str(error.value)
    assert SECRET not in repr(error.value.errors())
    tenants = TenantsConfig(apps=["blog"], url=f"postgresql://app:{SECRET}@db/t_{{tenant}}")
    assert SECRET not in repr(tenants)
    assert SECRET not in str(tenants)
    database = tenants.database("acme")
    assert database.name == "t_acme"
    assert database.redacted_url == "postgresql://app:***@db/t_acme"


def test_resolver_choices() -> None:
    assert config(resolver=lambda request: "acme").tenants is not None
    assert config(resolver="myproject.tenancy.resolve").tenants is not None
    with pytest.raises(ValidationError, match="resolver 'cookie'"):
        config(resolver="cookie")


def test_tenant_aliases_and_apps_in_a_fixed_database_are_refused() -> None:
    with pytest.raises(ValidationError, match="aliases starting with 'tenant_'"):
        DjangoConfig(
            databases={
                "default": DatabaseConfig.from_url("sqlite://"),
                "tenant_x": DatabaseConfig.from_url("sqlite://"),
            },
            tenants=TenantsConfig(apps=["blog"], url="sqlite:///{tenant}.sqlite3"),
        )
    with pytest.raises(ValidationError, match=r"app .blog. is in tenants\.apps"):
        DjangoConfig(
            databases={
                "default": DatabaseConfig.from_url("sqlite://"),
                "blog_db": DatabaseConfig.from_url("sqlite://", apps=["blog"]),
            },
            tenants=TenantsConfig(apps=["blog"], url="sqlite:///{tenant}.sqlite3"),
        )


def test_passwords_are_secrets_keyed_by_user_and_server() -> None:
    tenants = TenantsConfig(
        apps=["blog"],
        url="sqlite:///t/{tenant}.sqlite3",
        passwords={"app@db2.example.com": SECRET, "app@db3:5433": SECRET},
    )
    assert SECRET not in repr(tenants)
    setting = tenants.setting()
    assert setting["passwords"]["app@db3:5433"].get_secret_value() == SECRET
    assert SECRET not in repr(setting)
    with pytest.raises(ValidationError) as error:
        TenantsConfig(
            apps=["blog"],
            url="sqlite:///t/{tenant}.sqlite3",
            passwords={f"app:{SECRET}@db2": SECRET},
        )
    assert "a passwords key is not 'user@host' or 'user@host:port'" in str(error.value)
    assert SECRET not in str(error.value)
