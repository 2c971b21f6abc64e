"""Moved to ``django_cfg.admin`` and ``django_cfg.checks.admin``; this path (django-cfg 0.1)
keeps working."""

from django_cfg.admin.changelist import CrossDatabaseChangeList  # noqa: F401
from django_cfg.admin.delete_page import CrossDatabaseNestedObjects  # noqa: F401
from django_cfg.checks.admin import admin_lookup_errors  # noqa: F401
