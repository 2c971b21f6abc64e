"""The tenant in log lines: ``record.tenant`` for a logging formatter.

    LOGGING = {
        "version": 1,
        "filters": {"tenant": {"()": "django_cfg.tenants.logging.TenantFilter"}},
        "formatters": {"tenant": {"format": "[tenant=%(tenant)s] %(name)s %(message)s"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "filters": ["tenant"],
                "formatter": "tenant",
            },
        },
        "loggers": {"django.db.backends": {"handlers": ["console"], "level": "DEBUG"}},
    }

    # [tenant=acme] django.db.backends (0.000) SELECT ... "notes_note" ...; alias=tenant_acme

A record of an SQL statement (``django.db.backends``: Django logs each one with ``DEBUG = True``)
gets the tenant whose database ran it (``tenant_acme``, ``tenant_acme.replica``); any other
record the tenant selected where it was logged. Records of neither get ``none`` (``"-"``;
``{"()": ..., "none": "shared"}`` to change it). Put the filter on the handler: a filter of a
logger does not see the records its children pass up.
"""

from __future__ import annotations

import logging

from django_cfg.settings.tenant_names import tenant_database_of, tenant_of_alias
from django_cfg.tenants.context import current_tenant

__all__ = ["TenantFilter"]


class TenantFilter(logging.Filter):
    """Sets ``record.tenant``; never drops a record."""

    def __init__(self, name: str = "", none: str = "-") -> None:
        super().__init__(name)
        self.none = none

    def filter(self, record: logging.LogRecord) -> bool:
        alias = getattr(record, "alias", None)
        primary = tenant_database_of(alias) if isinstance(alias, str) else None
        tenant = tenant_of_alias(primary) if primary is not None else current_tenant()
        record.tenant = tenant if tenant is not None else self.none
        return True
