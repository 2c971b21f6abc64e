"""Which environment this process runs in, chosen by one variable: ``DJANGO_ENV``.

    DJANGO_ENV=prod python manage.py migrate_all

Names are short, as in the file names they select (``.env.prod``, ``config.prod.yaml``):
``dev`` (the default when the variable is unset), ``test``, ``staging``, ``prod``; the long
forms ``development``, ``testing`` and ``production`` are accepted and shortened. Any other name
is used as it is written (lower-cased), so ``DJANGO_ENV=qa`` reads ``config.qa.yaml``.
"""

from __future__ import annotations

import os

__all__ = [
    "DEVELOPMENT_ENVIRONMENTS",
    "ENVIRONMENT_VARIABLE",
    "current_environment",
    "normalised_environment",
]

ENVIRONMENT_VARIABLE = "DJANGO_ENV"

DEVELOPMENT_ENVIRONMENTS = frozenset({"dev", "test"})
"""Environments where ``DjangoConfig.debug`` defaults to True and a development key is allowed."""

_LONG_NAMES = {"development": "dev", "develop": "dev", "testing": "test", "production": "prod"}


def normalised_environment(value: str) -> str:
    """``" Production"`` -> ``"prod"``; empty -> ``"dev"``."""
    name = value.strip().lower() or "dev"
    return _LONG_NAMES.get(name, name)


def current_environment() -> str:
    """The normalised value of ``DJANGO_ENV`` ('dev' when unset or empty).

    Only the process environment is read: the environment chooses the files (``.env.prod``), so
    no file can set it; ``EnvSettings`` refuses a ``.env`` that tries (``settings.production``).
    """
    return normalised_environment(os.environ.get(ENVIRONMENT_VARIABLE, ""))
