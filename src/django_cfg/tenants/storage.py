"""Uploaded files per tenant: ``<MEDIA_ROOT>/<tenant>/``, served under ``<MEDIA_URL><tenant>/``.

    STORAGES = {
        "default": {"BACKEND": "django_cfg.tenants.storage.TenantFileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

    with use_tenant("acme"):
        note.attachment.save("report.pdf", content)   # MEDIA_ROOT/acme/report.pdf
        note.attachment.url                            # /media/acme/report.pdf
    with use_tenant("beta"):
        default_storage.exists("report.pdf")           # False: beta has a folder of its own

A file's name (what a ``FileField`` stores) is relative to its tenant's folder, as with
django-tenants: names never name another tenant's folder, and ``..`` cannot leave it (Django's
``safe_join``). With no tenant selected, files are in ``MEDIA_ROOT`` itself, as without this
storage (a shared model's uploads; give their ``upload_to`` a folder that is no tenant's name).
The folder is chosen at each call, from the tenant selected then.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage

from django_cfg.settings.tenant_names import check_tenant_name
from django_cfg.tenants.context import current_tenant

__all__ = ["TenantFileSystemStorage"]


class TenantFileSystemStorage(FileSystemStorage):
    """Django's ``FileSystemStorage`` with the current tenant's folder as its root."""

    @property
    def base_location(self) -> str:
        root = str(self._value_or_setting(vars(self)["_location"], settings.MEDIA_ROOT))
        name = current_tenant()
        return root if name is None else os.path.join(root, check_tenant_name(name))

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    @property
    def base_url(self) -> str:
        base = str(self._value_or_setting(vars(self)["_base_url"], settings.MEDIA_URL) or "")
        if base and not base.endswith("/"):
            base += "/"
        name = current_tenant()
        return base if name is None else f"{base}{check_tenant_name(name)}/"
