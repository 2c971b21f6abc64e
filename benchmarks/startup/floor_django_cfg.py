"""Issue 23 point 5, variant 3: the same project typed with django_cfg (the example project's
api/config.py with its URLs written out, no environment loader): three databases, a replica of
``default`` (by its name), the app rules."""

from django_cfg import DatabaseConfig, DjangoConfig


class FloorConfig(DjangoConfig):
    secret_key = "django-insecure-handwritten-baseline-key-0123456789abcdefghijklmnop"
    project_apps = ["apps.accounts", "apps.blog", "apps.shop"]  # noqa: RUF012
    databases = {  # noqa: RUF012
        "default": DatabaseConfig.from_url(url="sqlite:///db/default.sqlite3"),
        "blog_db": DatabaseConfig.from_url(url="sqlite:///db/blog.sqlite3"),
        "shop_db": DatabaseConfig.from_url(url="sqlite:///db/shop.sqlite3"),
        "replica": DatabaseConfig.from_url(url="sqlite:///db/replica.sqlite3"),
    }


globals().update(FloorConfig().get_all_settings())
ROOT_URLCONF = "api.urls"
AUTH_USER_MODEL = "accounts.User"
DATABASE_ROUTING_RULES = {"blog": "blog_db", "shop": "shop_db"}
