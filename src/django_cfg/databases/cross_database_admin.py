"""Moved to ``django_cfg.admin.cross_database``; this path (django-cfg 0.1) keeps working."""

from django_cfg.admin.cross_database import (  # noqa: F401
    CrossDatabaseChangeList,
    CrossDatabaseNestedObjects,
    admin_lookup_errors,
)
