"""The ``django_cfg.tenants`` app: the tenants table. ``DjangoConfig`` installs it only when
``tenants`` is set, so projects without tenants get no table and no migration of it."""

from django.apps import AppConfig


class TenantsAppConfig(AppConfig):
    name = "django_cfg.tenants"
    label = "django_cfg_tenants"
    verbose_name = "django-cfg tenants"
    default_auto_field = "django.db.models.BigAutoField"
