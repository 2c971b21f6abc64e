"""Django's ``loaddata``, also for a tenant's database: ``--database tenant_<name>``
(the tenant is selected while it runs; ``management/tenant_database_option.py``).
"""

from __future__ import annotations

from django.core.management.commands.loaddata import Command as LoadData

from django_cfg.management.tenant_database_option import TenantDatabaseCommand


class Command(TenantDatabaseCommand, LoadData):
    pass
