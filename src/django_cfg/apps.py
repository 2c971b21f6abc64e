"""The ``django_cfg`` Django app: management commands and system checks."""

from django.apps import AppConfig


class DjangoCfgConfig(AppConfig):
    name = "django_cfg"
    verbose_name = "django-cfg"
