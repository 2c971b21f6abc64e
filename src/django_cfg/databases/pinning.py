"""Moved to ``django_cfg.replicas.pinning`` and ``django_cfg.state.pins``; this path
(django-cfg 0.1) keeps working."""

from django_cfg.replicas.pinning import ReadYourWritesMiddleware  # noqa: F401
from django_cfg.state.pins import use_primary  # noqa: F401
