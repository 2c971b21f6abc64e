"""Issue 23 point 5, variant 1: the three-database project with a replica, written by hand as
plain dicts (no pydantic, no django_cfg): handwritten_settings.py's apps, middleware and
templates, ``default`` / ``blog_db`` / ``shop_db`` on SQLite files, ``replica`` a replica of
``default`` (Django's ``TEST["MIRROR"]``), and a hand-written router for the app rules and
replica reads."""

from handwritten_settings import *  # noqa: F403
from handwritten_settings import BASE_DIR, DATABASES

DATABASES = {
    **DATABASES,
    "replica": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db" / "replica.sqlite3",
        "TEST": {"MIRROR": "default"},
    },
}
DATABASE_ROUTERS = ["floor_router.ReplicaRouter"]
