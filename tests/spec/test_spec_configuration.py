"""The spec page's configuration blocks, verbatim, produce the DATABASES they promise."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from django_cfg import DatabaseURLs, EnvSettings, databases_from_urls
from tests.support.services import IN_CI
from tests.support.spec_page import SPEC, SpecProject, block, variables

PG = "django.db.backends.postgresql"
REPLICA_PG = "django_cfg.backends.replica_postgresql"
SQLITE = "django.db.backends.sqlite3"

SINGLE_LOADER = block(
    "python", "Single Database Setup (Recommended)", "# api/environment/loader.py"
)
SINGLE_CONFIG = block("python", "Single Database Setup (Recommended)", "# api/config.py")
SINGLE_ENV = block("bash", "Single Database Setup (Recommended)", "# .env")
MULTI_LOADER = block("python", "Multi-Database Setup (Advanced)", "# api/environment/loader.py")
MULTI_CONFIG = block("python", "Multi-Database Setup (Advanced)", "# api/config.py")
MULTI_ENV = block("bash", "Multi-Database Setup (Advanced)", "# .env or system ENV")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SpecProject]:
    for name in list(os.environ):
        if name.startswith(("DATABASE", "DJANGO_ENV")):
            monkeypatch.delenv(name)
    spec_project = SpecProject(tmp_path)
    yield spec_project
    spec_project.forget()


def set_variables(monkeypatch: pytest.MonkeyPatch, env_block: str) -> None:
    for name, value in variables(env_block).items():
        monkeypatch.setenv(name, value)


def test_the_spec_copy_is_the_shared_page() -> None:
    shared = Path(__file__).resolve().parents[3] / "shared" / "spec" / "multi-database.md"
    if not shared.exists():
        if IN_CI:
            pytest.fail(f"{shared} is not beside this checkout (CI clones main with shared/)")
        pytest.skip(f"{shared} is not beside this checkout")
    assert SPEC.read_text() == shared.read_text()


def test_single_database_without_environment_is_sqlite_under_the_project(project) -> None:
    settings = project.settings(SINGLE_LOADER, SINGLE_CONFIG)
    default = settings["DATABASES"]["default"]
    assert list(settings["DATABASES"]) == ["default"]
    assert (default["ENGINE"], default["NAME"]) == (
        SQLITE,
        str(project.root / "db" / "default.sqlite3"),
    )
    assert (project.root / "db").is_dir()
    assert settings["DEBUG"] is True
    assert settings["SECRET_KEY"]


def test_single_database_env_block_selects_postgresql(project, monkeypatch) -> None:
    set_variables(monkeypatch, SINGLE_ENV)
    default = project.settings(SINGLE_LOADER, SINGLE_CONFIG)["DATABASES"]["default"]
    assert (default["ENGINE"], default["HOST"], default["NAME"]) == (PG, "localhost", "mydb")


def test_multi_database_without_optional_urls_has_only_default(project) -> None:
    settings = project.settings(MULTI_LOADER, MULTI_CONFIG)
    assert list(settings["DATABASES"]) == ["default"]
    assert settings["DATABASE_ROUTERS"] == []


def test_multi_database_env_block_adds_replica_and_analytics(project, monkeypatch) -> None:
    set_variables(monkeypatch, MULTI_ENV)
    databases = project.settings(MULTI_LOADER, MULTI_CONFIG)["DATABASES"]
    assert list(databases) == ["default", "replica", "analytics"]
    shown = {
        alias: (d["ENGINE"], d["USER"], d["PASSWORD"], d["HOST"], d["NAME"])
        for alias, d in databases.items()
    }
    assert shown == {
        "default": (PG, "user", "pass", "db-primary.example.com", "mydb"),
        # A replica by its name (docs/replicas.md): Django's backend plus failover.
        "replica": (REPLICA_PG, "readonly", "pass", "db-replica.example.com", "mydb"),
        "analytics": (PG, "analytics", "pass", "warehouse.example.com", "analytics"),
    }


@pytest.mark.parametrize("only", ["DATABASE__URL_REPLICA", "DATABASE__URL_ANALYTICS"])
def test_each_optional_database_is_added_only_when_its_variable_is_set(project, monkeypatch, only):
    monkeypatch.setenv(only, variables(MULTI_ENV)[only])
    databases = project.settings(MULTI_LOADER, MULTI_CONFIG)["DATABASES"]
    assert list(databases) == ["default", only.removeprefix("DATABASE__URL_").lower()]


def test_example_1_production_url_with_interpolated_password_and_options(project, monkeypatch):
    monkeypatch.setenv("DB_PASSWORD", "from-the-orchestrator")
    set_variables(
        monkeypatch, block("bash", "Example 1: Single Database (Most Common)", "# Production")
    )
    config = block("python", "Example 1: Single Database (Most Common)", "# api/config.py")
    default = project.settings(SINGLE_LOADER, config)["DATABASES"]["default"]
    assert default["PASSWORD"] == "from-the-orchestrator"
    assert (default["HOST"], default["PORT"], default["NAME"]) == ("db.example.com", "5432", "mydb")
    assert default["OPTIONS"] == {"sslmode": "require", "connect_timeout": 10}


EXAMPLE_2 = "Example 2: Primary + Read Replica (Performance Scaling)"


def test_example_2_replica_and_its_router_come_from_the_class_body_if(project, monkeypatch):
    monkeypatch.setenv("DB_PASSWORD", "primary-pw")
    monkeypatch.setenv("DB_READONLY_PASSWORD", "replica-pw")
    set_variables(monkeypatch, block("bash", EXAMPLE_2, "# Production"))
    settings = project.settings(
        block("python", EXAMPLE_2, "# api/environment/loader.py"),
        block("python", EXAMPLE_2, "# api/config.py"),
        routers=block("python", EXAMPLE_2, "# myapp/routers.py"),
    )
    assert settings["DATABASE_ROUTERS"] == [
        "myapp.routers.ReadReplicaRouter",
        "django_cfg.routing.router.DatabaseRouter",
    ]
    replica = settings["DATABASES"]["replica"]
    assert (replica["USER"], replica["PASSWORD"], replica["HOST"]) == (
        "readonly",
        "replica-pw",
        "db-replica.example.com",
    )
    # A replica by its name: a bounded connect timeout for failover, the primary's test database.
    assert replica["OPTIONS"] == {"sslmode": "require", "connect_timeout": 2}
    assert replica["TEST"] == {"MIRROR": "default"}


def test_example_2_without_a_replica_has_no_router(project) -> None:
    settings = project.settings(
        block("python", EXAMPLE_2, "# api/environment/loader.py"),
        block("python", EXAMPLE_2, "# api/config.py"),
    )
    assert list(settings["DATABASES"]) == ["default"]
    assert settings["DATABASE_ROUTERS"] == []


EXAMPLE_3 = "Example 3: Primary + Analytics Warehouse"


@pytest.mark.parametrize("with_analytics", [True, False])
def test_example_3_analytics_warehouse_only_when_configured(project, monkeypatch, with_analytics):
    if with_analytics:
        monkeypatch.setenv("DB_PASSWORD", "app-pw")
        monkeypatch.setenv("ANALYTICS_PASSWORD", "warehouse-pw")
        set_variables(monkeypatch, block("bash", EXAMPLE_3, "# Production"))
    databases = project.settings(
        block("python", EXAMPLE_3, "# api/environment/loader.py"),
        block("python", EXAMPLE_3, "# api/config.py"),
    )["DATABASES"]
    assert ("analytics" in databases) is with_analytics
    if with_analytics:
        assert (databases["analytics"]["HOST"], databases["analytics"]["PASSWORD"]) == (
            "warehouse.example.com",
            "warehouse-pw",
        )


def test_development_sqlite_env_block_and_loader_defaults(project, monkeypatch) -> None:
    loader = block("python", "Development (SQLite)", "# api/environment/loader.py")
    assert project.settings(loader, SINGLE_CONFIG)["DATABASES"]["default"]["NAME"] == str(
        project.root / "db" / "default.sqlite3"
    )
    set_variables(monkeypatch, block("bash", "Development (SQLite)", "# .env (development)"))
    default = project.settings(loader, SINGLE_CONFIG)["DATABASES"]["default"]
    assert default["NAME"] == str(project.root / "db" / "dev.sqlite3")


def test_production_postgresql_block(project, monkeypatch) -> None:
    monkeypatch.setenv("DB_PASSWORD", "prod-pw")
    set_variables(monkeypatch, block("bash", "Production (PostgreSQL)", "# System ENV"))
    default = project.settings(SINGLE_LOADER, SINGLE_CONFIG)["DATABASES"]["default"]
    assert (default["ENGINE"], default["PASSWORD"], default["OPTIONS"]) == (
        PG,
        "prod-pw",
        {"sslmode": "require", "connect_timeout": 5},  # a primary's bounded default
    )


def test_best_practice_naming_block_runs() -> None:
    code = block("python", "1. Consistent Naming", "url: str")
    exec(compile(code, "spec:consistent-naming", "exec"), {})  # the page's own code


def environment(folder: Path) -> EnvSettings:
    class Environment(EnvSettings):
        config_dir = folder
        database: DatabaseURLs = DatabaseURLs()

    return Environment()


def test_best_practice_single_underscore_env_file_maps_to_aliases(tmp_path, monkeypatch) -> None:
    for name in [n for n in os.environ if n.startswith("DATABASE")]:
        monkeypatch.delenv(name)
    (tmp_path / ".env").write_text(block("bash", "2. Environment Variables", "# .env"))
    databases = databases_from_urls(environment(tmp_path).database)  # type: ignore[attr-defined]
    assert {alias: d.name for alias, d in databases.items()} == {
        "default": "main",
        "blog_db": "blog",
        "shop_db": "shop",
    }


@pytest.mark.parametrize(
    ("environment_name", "first_line", "engine", "blog_name"),
    [("dev", "# Development", SQLITE, "db/blog.sqlite3"), ("prod", "# Production", PG, "blog")],
)
def test_different_engines_per_environment_yaml(
    tmp_path, monkeypatch, environment_name, first_line, engine, blog_name
) -> None:
    for name in [n for n in os.environ if n.startswith("DATABASE")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DJANGO_ENV", environment_name)
    yaml_block = block("yaml", "3. Different Engines Per Environment", first_line)
    (tmp_path / f"config.{environment_name}.yaml").write_text(yaml_block)
    databases = databases_from_urls(environment(tmp_path).database)  # type: ignore[attr-defined]
    assert sorted(databases) == ["blog_db", "default"]
    assert (databases["blog_db"].engine, databases["blog_db"].name) == (engine, blog_name)
