"""Settings of the test suite, built by DjangoConfig itself.

Each engine has two databases and a pair of apps routed to them (``tests/apps/crossdb``): people
on the first, their posts on the second, so cross-database relations run on every engine:

    default      SQLite (memory)   testapp, lite_people, Django's apps
    sqlite_blog  SQLite (memory)   lite_posts
    postgres     PostgreSQL        pg_people           postgres_blog  PostgreSQL  pg_posts
    replica      the streaming replica of postgres (port 5433)
    analytics    read-only view of postgres (a warehouse)
    pooled       postgres through PgBouncer (127.0.0.1:6432, ?pooler=transaction)
    mariadb      MariaDB           maria_people        mariadb_blog   MariaDB     maria_posts

Tests that need a server are marked (``postgres``, ``mariadb``, ``replica``, ``pgbouncer``) and
name their aliases in ``django_db(databases=[...])``. Point the suite at other servers with
DJANGO_CFG_TEST_POSTGRES_URL / DJANGO_CFG_TEST_MARIADB_URL.
"""

from django_cfg import DatabaseConfig, DjangoConfig
from tests.support.services import (
    MARIADB_URL,
    PGBOUNCER_URL,
    POSTGRES_URL,
    REPLICA_URL,
    sibling_url,
)

ENGINE_APPS = ["lite", "pg", "maria"]


class TestSuiteConfig(DjangoConfig):
    # Annotated overrides (un-annotated ones work too, but the pydantic mypy plugin flags them).
    project_name: str = "django-cfg tests"
    root_urlconf: str | None = "tests.support.urls"
    project_apps: list[str] = [
        "tests.apps.testapp",
        *(
            f"tests.apps.crossdb.{engine}_{role}"
            for engine in ENGINE_APPS
            for role in ("people", "posts")
        ),
    ]
    databases: dict[str, DatabaseConfig] = {
        "default": DatabaseConfig.from_url("sqlite://"),
        "sqlite_blog": DatabaseConfig.from_url("sqlite://", apps=["lite_posts"]),
        "postgres": DatabaseConfig.from_url(POSTGRES_URL, apps=["pg_people"]),
        "postgres_blog": DatabaseConfig.from_url(
            sibling_url(POSTGRES_URL, "_blog"), apps=["pg_posts"]
        ),
        # The streaming replica of the PostgreSQL server (in tests: a mirror of "postgres").
        "replica": DatabaseConfig.from_url(REPLICA_URL, replica_of="postgres"),
        # A read-only warehouse; in tests it reads the "postgres" test database, read-only.
        "analytics": DatabaseConfig.from_url(
            POSTGRES_URL, read_only=True, test={"MIRROR": "postgres"}
        ),
        # The "postgres" test database through PgBouncer in transaction mode (tests/services.py).
        "pooled": DatabaseConfig.from_url(PGBOUNCER_URL, test={"MIRROR": "postgres"}),
        "mariadb": DatabaseConfig.from_url(MARIADB_URL, apps=["maria_people"]),
        "mariadb_blog": DatabaseConfig.from_url(
            sibling_url(MARIADB_URL, "_blog"), apps=["maria_posts"]
        ),
    }


config = TestSuiteConfig()
globals().update(config.get_all_settings())
