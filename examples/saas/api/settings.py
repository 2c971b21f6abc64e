# settings.py
from api.config import config
globals().update(config.get_all_settings())

ROOT_URLCONF = "api.urls"
AUTH_USER_MODEL = "accounts.User"

# With a cache_db (DATABASE__URL_CACHE), sessions and Django's database cache live there.
if "cache_db" in config.databases:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "django_cache",
        }
    }

DATABASE_ROUTING_RULES = {
    'blog': 'blog_db',    # All blog app models → blog_db
    'shop': 'shop_db',    # All shop app models → shop_db
    # Apps not listed → default database
}
