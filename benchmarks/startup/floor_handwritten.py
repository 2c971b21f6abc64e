"""Issue 23 point 5, variant 1: the three-database project with a replica, written by hand as
plain dicts (no pydantic, no django_cfg): the example project's apps, middleware and templates,
``default`` / ``blog_db`` / ``shop_db`` on SQLite files, ``replica`` a replica of ``default``
(Django's ``TEST["MIRROR"]``), and a hand-written router for the app rules and replica reads."""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2] / "examples" / "saas"
SECRET_KEY = "django-insecure-handwritten-baseline-key-0123456789abcdefghijklmnop"
DEBUG = True
ALLOWED_HOSTS: list[str] = []
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "apps.accounts",
    "apps.blog",
    "apps.shop",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]
DATABASES = {
    alias: {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db" / f"{name}.sqlite3"}
    for alias, name in (
        ("default", "default"),
        ("blog_db", "blog"),
        ("shop_db", "shop"),
        ("replica", "replica"),
    )
}
DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["floor_router.ReplicaRouter"]
ROOT_URLCONF = "api.urls"
AUTH_USER_MODEL = "accounts.User"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
MEDIA_URL = "media/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
