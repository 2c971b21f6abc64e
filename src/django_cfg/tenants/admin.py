"""The tenants table in Django's admin: each tenant's name, state, database and domains.

    # nothing to write: the admin finds it (``django_cfg.tenants`` is an installed app)
    # /admin/django_cfg_tenants/tenant/

Only a tenant's domains can be edited there (checked as ``create_tenant --domain`` checks them).
Creating, dropping, moving a tenant or changing its state need more than a row (a database
created, migrated, fenced): the page offers no "add" or "delete", and says which command does it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from django_cfg.tenants.domains import checked_domains, domain_claims
from django_cfg.tenants.models import Tenant
from django_cfg.tenants.registry import current_registry

__all__ = ["TenantAdmin", "TenantForm"]


class TenantForm(forms.ModelForm):  # type: ignore[type-arg]
    domains = forms.CharField(
        required=False,
        help_text="The tenant's own hosts, separated by spaces or commas (acme.com "
        "www.acme.com); requests to them run as the tenant. Add them to ALLOWED_HOSTS too.",
    )

    class Meta:
        model = Tenant
        fields = ("domains",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial["domains"] = " ".join(self.instance.domains or ())

    def clean_domains(self) -> list[str]:
        hosts = self.cleaned_data["domains"].replace(",", " ").split()
        registry = current_registry()
        if registry is None or not hosts:
            return []
        try:
            return checked_domains(registry.domains, self.instance.name, hosts)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = TenantForm
    list_display = ("name", "shown_state", "shown_domains", "database", "created")
    search_fields = ("name",)
    readonly_fields = ("name", "shown_state", "database", "replica_urls", "version", "created")
    fields = ("name", "shown_state", "database", "replica_urls", "domains", "version", "created")

    @admin.display(description="state", ordering="state")
    def shown_state(self, tenant: Tenant) -> str:
        return tenant.state or "ready"

    @admin.display(description="domains")
    def shown_domains(self, tenant: Tenant) -> str:
        return ", ".join(tenant.domains or ()) or "-"

    @admin.display(description="database")
    def database(self, tenant: Tenant) -> str:
        """Its URL without password (the template's, unless placed elsewhere)."""
        registry = current_registry()
        if registry is None:
            return tenant.url or "-"
        return registry.database_at(tenant.name, tenant.url).redacted_url

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # manage.py create_tenant: a database to create and migrate

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # manage.py drop_tenant [--drop-database]

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        """Django's, a POST checking and saving the domains under ``domain_claims()`` (taken
        before the admin's transaction): a domain another process claims at the same moment
        is then refused on this form, naming its owner, never given to two tenants."""
        if request.method != "POST":
            return super().changeform_view(request, object_id, form_url, extra_context)
        with domain_claims():
            return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        obj.save(update_fields=["domains"])  # the only field edited here
        registry = current_registry()
        if registry is not None:
            registry.domains.forget()

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        context = {
            **(extra_context or {}),
            "subtitle": "Create, drop and move tenants with manage.py create_tenant, "
            "drop_tenant and move_tenant; list_tenants and tenant_command too.",
        }
        return super().changelist_view(request, context)
