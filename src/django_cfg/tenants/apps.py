"""The ``django_cfg.tenants`` app: the tenants table. ``DjangoConfig`` installs it only when
``tenants`` is set, so projects without tenants get no table and no migration of it.

Its ``ready()`` makes the tenant follow Celery tasks where Celery is installed
(``django_cfg.tenants.celery``, connected once ``celery.signals`` is imported: startup does not
import Celery); Django's tasks framework is followed by the backends of
``django_cfg.tenants.tasks``.
"""

from importlib.util import find_spec
from types import ModuleType

from django.apps import AppConfig

from django_cfg.runtime.after_import import after_import


class TenantsAppConfig(AppConfig):
    name = "django_cfg.tenants"
    label = "django_cfg_tenants"
    verbose_name = "django-cfg tenants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        if find_spec("celery") is not None:
            after_import("celery.signals", _connect_celery)


def _connect_celery(_: ModuleType) -> None:
    from django_cfg.tenants import celery

    celery.connect()
