"""Moved to ``django_cfg.settings.env_settings``; this path (django-cfg 0.1) keeps working."""

from django_cfg.settings.env_settings import (  # noqa: F401
    ConfigFileError,
    EnvSettings,
)
