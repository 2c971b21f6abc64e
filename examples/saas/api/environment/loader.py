# api/environment/loader.py
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

class DatabaseConfig(BaseSettings):
    """Multi-database configuration."""
    # Primary database
    url: str = Field(default="sqlite:///db/default.sqlite3")

    # Blog and shop databases (Best Practices: url_blog -> 'blog_db', url_shop -> 'shop_db')
    url_blog: str = Field(default="sqlite:///db/blog.sqlite3")
    url_shop: str = Field(default="sqlite:///db/shop.sqlite3")

    # Read replica (optional)
    url_replica: str | None = Field(default=None)

    # Analytics warehouse (optional)
    url_analytics: str | None = Field(default=None)

    # Sessions and Django's database cache (optional): url_cache -> 'cache_db'
    url_cache: str | None = Field(default=None)

    # Tenant mode (SAAS_TENANTS=1): where each tenant's database is, a URL with {tenant}
    tenant_url: str = Field(default="sqlite:///db/tenants/{tenant}.sqlite3")

    model_config = SettingsConfigDict(
        env_prefix="DATABASE__",
        env_nested_delimiter="__",
    )


class EnvironmentConfig(BaseSettings):
    """The project's environment: env.database.url, env.database.url_blog, ..."""

    database: DatabaseConfig = Field(default_factory=DatabaseConfig)

    # SAAS_TENANTS=1 (scripts/example.sh --tenants): apps.projects gets a database per tenant
    saas_tenants: bool = Field(default=False)


env = EnvironmentConfig()
