"""The tenant app of benchmarks/tenant_switch_postgres.py: its table is in every tenant's
database (django_cfg) or schema (django-tenants), created by the benchmark's SQL."""

from django.db import models


class Page(models.Model):
    title = models.CharField(max_length=100)

    class Meta:
        app_label = "pages"
