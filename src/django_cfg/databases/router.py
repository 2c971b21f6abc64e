"""Moved to ``django_cfg.routing.router``; this path (django-cfg 0.1) keeps working."""

from django_cfg.routing.router import (  # noqa: F401
    DatabaseRouter,
)
