"""Moved to ``django_cfg.replicas.pinning``; this path (django-cfg 0.1) keeps working."""

from django_cfg.replicas.pinning import (  # noqa: F401
    ReadYourWritesMiddleware,
    use_primary,
)
