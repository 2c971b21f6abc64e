"""TenantsConfig and what DjangoConfig writes for it (no database needed)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from django_cfg import DatabaseConfig, DjangoConfig, TenantsConfig
from django_cfg.settings.routers import ROUTER_PATH
from django_cfg.settings.tenant_names import (
    TENANTS_MIDDLEWARE,
    TENANTS_ROUTER,
    check_tenant_name,
    tenant_alias,
    tenant_replica_alias,
)
from django_cfg.state.topology import TENANT_HOME, Topology
from django_cfg.tenants.registry import tenant_database_of

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
        "url": SecretStr("sqlite:///t/{tenant}.sqlite3"),  # hidden in error reports
        "replica_urls": [],
        "replica_role": {"read_weight": 1.0},
        "resolver": "path",
        "header": "X-Tenant",
        "shared_hosts": [],
        "domains": {},
        "names": ["acme", "beta"],
        "max_open": 10,
        "test_url": None,
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


def test_replica_templates_are_checked_like_the_url_and_never_show_a_password() -> None:
    url = "postgresql://app@db/t_{tenant}"
    with pytest.raises(ValidationError) as error:
        TenantsConfig(apps=["blog"], url=url, replica_url=f"postgresql://app:{SECRET}@r/t")
    assert "replica_url must contain '{tenant}' exactly once" in str(error.value)
    assert SECRET not in str(error.value)
    assert SECRET not in repr(error.value.errors())
    with pytest.raises(ValidationError) as error:
        TenantsConfig(
            apps=["blog"],
            url=url,
            replica_url=("postgresql://r1/t_{tenant}", f"nosuch://app:{SECRET}@r2/t_{{tenant}}"),
        )
    assert "replica_url[1] template: unknown database URL scheme" in str(error.value)
    assert SECRET not in str(error.value)
    with pytest.raises(ValidationError, match=r"replica_url\[0\] is a sqlite database"):
        TenantsConfig(apps=["blog"], url=url, replica_url=("sqlite:///r/{tenant}.sqlite3",))
    with pytest.raises(ValidationError, match="replica_max_lag_bytes only apply to tenant rep"):
        TenantsConfig(apps=["blog"], url=url, replica_max_lag_bytes=10)
    with pytest.raises(ValidationError, match="empty tuple"):
        TenantsConfig(apps=["blog"], url=url, replica_url=())
    tenants = TenantsConfig(
        apps=["blog"], url=url, replica_url=f"postgresql://app:{SECRET}@replica/t_{{tenant}}"
    )
    assert SECRET not in repr(tenants)
    assert SECRET not in str(tenants)


def test_replica_templates_in_the_settings_with_read_your_writes() -> None:
    settings = config(
        url="postgresql://app@db/t_{tenant}",
        replica_url=("postgresql://app@r1/t_{tenant}", "postgresql://app@r2/t_{tenant}"),
        replica_read_weight=0.5,
        replica_max_lag_seconds=2,
    ).get_all_settings()
    tenants = settings["DJANGO_CFG_TENANTS"]
    assert tenants["replica_urls"] == [
        SecretStr("postgresql://app@r1/t_{tenant}"),
        SecretStr("postgresql://app@r2/t_{tenant}"),
    ]
    assert tenants["replica_role"] == {"read_weight": 0.5, "max_lag_seconds": 2}
    # the per-request read-your-writes middleware and the replica options, as for a replica
    assert "django_cfg.replicas.pinning.ReadYourWritesMiddleware" in settings["MIDDLEWARE"]
    assert settings["DATABASE_REPLICA_OPTIONS"]["pin_seconds"] > 0
    without = config().get_all_settings()
    assert "django_cfg.replicas.pinning.ReadYourWritesMiddleware" not in without["MIDDLEWARE"]


def test_a_replica_alias_is_never_another_tenants_alias() -> None:
    assert tenant_replica_alias("acme") == "tenant_acme.replica"
    assert tenant_replica_alias("acme", 2) == "tenant_acme.replica2"
    # the tenant named "acme_replica" has alias tenant_acme_replica: no '.', no collision
    assert tenant_alias("acme_replica") != tenant_replica_alias("acme")
    with pytest.raises(ValueError, match="invalid tenant name"):
        check_tenant_name(tenant_replica_alias("acme").removeprefix("tenant_"))
    # which tenant database an alias is or replicates, from the alias alone
    assert tenant_database_of("tenant_acme.replica") == "tenant_acme"
    assert tenant_database_of("tenant_acme.replica2") == "tenant_acme"
    assert tenant_database_of("tenant_acme") == "tenant_acme"
    assert tenant_database_of("tenant_acme_replica") == "tenant_acme_replica"  # its own tenant
    assert tenant_database_of("tenant_acme.other") is None
    assert tenant_database_of("default") is None
    assert tenant_database_of("replica") is None


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


def test_an_unknown_tenant_among_many_names_is_a_short_message() -> None:
    from django_cfg.tenants.registry import TenantRegistry

    names = [f"t{number:04}" for number in range(1000)]
    registry = TenantRegistry({"apps": ["notes"], "url": "sqlite:///{tenant}.db", "names": names})
    message = str(registry._unknown("t10000"))
    assert message == "no tenant 't10000': it is not in TenantsConfig.names (1000 tenants)."
    few = TenantRegistry({"apps": ["notes"], "url": "sqlite:///{tenant}.db", "names": ["b", "a"]})
    assert str(few._unknown("c")) == "no tenant 'c': it is not in TenantsConfig.names (a, b)."


def test_tenant_hash2_spreads_tenant_files_over_256_folders() -> None:
    import hashlib

    from django_cfg import TenantsConfig

    config = TenantsConfig(apps=["notes"], url="sqlite:///tenants/{tenant_hash2}/{tenant}.sqlite3")
    url = config.database_url("acme")
    assert url == f"sqlite:///tenants/{hashlib.sha256(b'acme').hexdigest()[:2]}/acme.sqlite3"
    folders = {config.database_url(f"t{i}").split("/")[-2] for i in range(2000)}
    assert len(folders) == 256
