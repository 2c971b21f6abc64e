"""Moved to ``django_cfg.settings.url``; this path (django-cfg 0.1) keeps working."""

from django_cfg.settings.url import (  # noqa: F401
    DatabaseURLError,
    parse_database_url,
    redacted_url,
    register_scheme,
)
