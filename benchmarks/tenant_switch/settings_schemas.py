"""django-tenants' side of benchmarks/tenant_switch_postgres.py: a schema per tenant, the same
apps, middleware and view as settings_ours.py, plain Django settings as django-tenants documents
(startproject's middleware and templates, as benchmarks/startup/handwritten_settings.py has them).

BENCH23_SCHEMAS_DB: the one database (its public schema holds the tenants and domains).
"""

import os

from benchmarks.startup import handwritten_settings as startproject

DEBUG = False
SECRET_KEY = "benchmark-only-" + "x" * 50
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "benchmarks.tenant_switch.urls"
USE_TZ = True
DATABASES = {
    "default": {
        "ENGINE": "django_tenants.postgresql_backend",
        "NAME": os.environ["BENCH23_SCHEMAS_DB"],
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": os.environ.get("BENCH23_PG_PORT", "5432"),
        "OPTIONS": {"connect_timeout": 5},
        "CONN_MAX_AGE": 60,  # one connection for every tenant, kept (its search_path is switched)
    }
}
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
SHARED_APPS = [
    "django_tenants",
    "benchmarks.tenant_switch.customers",
    *(app for app in startproject.INSTALLED_APPS if app.startswith("django.contrib.")),
]
TENANT_APPS = ["benchmarks.tenant_switch.pages"]
INSTALLED_APPS = [*SHARED_APPS, *TENANT_APPS]
TENANT_MODEL = "customers.Client"
TENANT_DOMAIN_MODEL = "customers.Domain"
MIDDLEWARE = ["django_tenants.middleware.main.TenantMainMiddleware", *startproject.MIDDLEWARE]
TEMPLATES = startproject.TEMPLATES
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
