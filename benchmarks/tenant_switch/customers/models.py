"""django-tenants' tenant and domain models (the django-tenants project only)."""

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class Client(TenantMixin):
    name = models.CharField(max_length=100)
    auto_create_schema = False  # the benchmark creates each schema and its table by SQL

    class Meta:
        app_label = "customers"


class Domain(DomainMixin):
    class Meta:
        app_label = "customers"
