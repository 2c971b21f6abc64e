"""Settings for Django's own test suite (``tests/runtests.py``) with django_cfg's router installed.

Django's ``test_sqlite`` settings, built by ``DjangoConfig``: two SQLite databases, ``default``
and ``other``. Django's ``multiple_database`` tests keep every table on both and move rows between
them with ``.using("other")``; in django_cfg's terms ``other`` is a copy of ``default``
(``copy_of="default"``): the router migrates every app homed on ``default`` there too, reads and
writes follow a row's database, and relations between the two databases are refused (they are
not cross-database relations of the models: every app lives on ``default``).

runtests.py replaces INSTALLED_APPS, MIDDLEWARE, TEMPLATES and a few more; ``run.py`` adds
``django_cfg`` to the apps it installs. Run with ``scripts/django_suite.sh``.
"""

from pydantic import SecretStr

from django_cfg import DatabaseConfig, DjangoConfig


class DjangoSuiteConfig(DjangoConfig):
    project_name: str = "Django's test suite"
    secret_key: SecretStr | None = SecretStr("django_tests_secret_key")
    default_auto_field: str = "django.db.models.AutoField"
    use_tz: bool = False
    media_url: str = ""  # Django's default, which its admin tests expect ("/documents/x.txt")
    # Django's test settings validate no passwords (its admin tests add users with short ones);
    # DjangoConfig's default is startproject's four validators.
    password_validators: list[dict[str, object]] = []
    databases: dict[str, DatabaseConfig] = {
        "default": DatabaseConfig.from_url("sqlite://"),
        "other": DatabaseConfig.from_url("sqlite://", copy_of="default"),
    }


globals().update(DjangoSuiteConfig().get_all_settings())

# As Django's test_sqlite.py: a fast hasher.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
