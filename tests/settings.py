"""Settings of the test suite, built by DjangoConfig itself.

Each real server has its own alias; tests that need one are marked (``postgres``, ``mariadb``,
``replica``) and ask for the alias with ``django_db(databases=[...])``. Point the suite at other
servers with DJANGO_CFG_TEST_POSTGRES_URL / DJANGO_CFG_TEST_MARIADB_URL.
"""

from django_cfg import DatabaseConfig, DjangoConfig
from tests.services import MARIADB_URL, POSTGRES_URL


class TestSuiteConfig(DjangoConfig):
    # Annotated overrides (un-annotated ones work too, but the pydantic mypy plugin flags them).
    project_name: str = "django-cfg tests"
    project_apps: list[str] = ["tests.testapp"]
    databases: dict[str, DatabaseConfig] = {
        "default": DatabaseConfig.from_url("sqlite://"),
        "postgres": DatabaseConfig.from_url(POSTGRES_URL),
        "mariadb": DatabaseConfig.from_url(MARIADB_URL),
    }


config = TestSuiteConfig()
globals().update(config.get_all_settings())
