# api/config.py
from django_cfg import DjangoConfig, DatabaseConfig
from django_cfg import TenantsConfig  # the tenant mode (SAAS_TENANTS=1)
from .environment import env

class MyDjangoConfig(DjangoConfig):
    project_apps = ["apps.accounts", "apps.blog", "apps.shop"]

    databases = {
        "default": DatabaseConfig.from_url(url=env.database.url),
        "blog_db": DatabaseConfig.from_url(url=env.database.url_blog),
        "shop_db": DatabaseConfig.from_url(url=env.database.url_shop),
    }

    # Add replica if configured
    if env.database.url_replica:
        databases["replica"] = DatabaseConfig.from_url(url=env.database.url_replica)

    # Add analytics if configured
    if env.database.url_analytics:
        databases["analytics"] = DatabaseConfig.from_url(url=env.database.url_analytics)

    # Add a sessions/cache database if configured (settings.py points CACHES at it)
    if env.database.url_cache:
        databases["cache_db"] = DatabaseConfig.from_url(
            url=env.database.url_cache, apps=["sessions", "django_cache"]
        )

    # Tenant mode (SAAS_TENANTS=1, scripts/example.sh --tenants): each tenant's projects in
    # its own database (db/tenants/<tenant>.sqlite3); users stay shared on default.
    if env.saas_tenants:
        project_apps = [*project_apps, "apps.projects"]
        tenants = TenantsConfig(
            apps=["projects"],
            url=env.database.tenant_url,
            resolver="subdomain",  # acme.localhost -> tenant "acme"
        )

    # Optional: Configure routing rules
    # database_routers = ["myapp.routers.ReadReplicaRouter"]

config = MyDjangoConfig()
