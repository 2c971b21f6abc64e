"""``TenantMiddleware``: each request runs as the tenant its resolver names.

    resolver="subdomain"   acme.example.com -> "acme" (the first label of a host of 3+ labels,
                           or of 2 labels ending in "localhost"); an IP host (127.0.0.1,
                           [::1], with or without port) and TenantsConfig.shared_hosts name
                           none; first, a tenant's own domain (acme.com -> "acme":
                           TenantsConfig.domains, create_tenant --domain; tenants.domains)
    resolver="header"      the X-Tenant header (TenantsConfig.header)
    resolver="path"        /acme/notes/ -> "acme" (the URL patterns keep the prefix:
                           path("<str:tenant>/", include(...)))
    resolver=callable      callable(request) -> name or None (or its dotted path)

A request naming no tenant runs with none: shared pages answer as usual, and a page that
queries a tenant app is a 404 (its view's ``NoTenantError``, ``process_exception``). A request
naming an unknown or invalid tenant gets a 404: never another tenant's data, never a 500.
``request.tenant`` is the tenant's name (or None). Sync and async.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Collection
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.module_loading import import_string

from django_cfg.tenants.context import use_tenant
from django_cfg.tenants.errors import NoTenantError, UnknownTenantError
from django_cfg.tenants.registry import TenantRegistry, current_registry

__all__ = ["TenantMiddleware", "resolve_tenant", "subdomain_tenant"]


def resolve_tenant(request: HttpRequest, setting: dict[str, Any]) -> str | None:
    """The tenant name ``request`` names by the configured resolver, or None."""
    resolver = setting.get("resolver", "subdomain")
    if resolver == "subdomain":
        return subdomain_tenant(request.get_host(), setting.get("shared_hosts") or ())
    if resolver == "header":
        return request.headers.get(setting.get("header") or "X-Tenant") or None
    if resolver == "path":
        first = request.path_info.lstrip("/").partition("/")[0]
        return first or None
    function: Callable[[HttpRequest], str | None] = (
        import_string(resolver) if isinstance(resolver, str) else resolver
    )
    return function(request)


def subdomain_tenant(host: str, shared_hosts: Collection[str] = ()) -> str | None:
    """The tenant ``host`` (a Host header: ``acme.example.com:8000``) names, or None for a
    host of fewer labels, an IP host or one of ``shared_hosts`` (lower case, no port)."""
    host = host.lower()
    if host.startswith("["):  # an IPv6 literal: [::1] or [::1]:8000
        return None
    domain = host.partition(":")[0].rstrip(".")
    if domain in shared_hosts or _is_ip(domain):
        return None
    labels = domain.split(".")
    if len(labels) >= 3 or (len(labels) == 2 and labels[1] == "localhost"):
        return labels[0]
    return None


def _is_ip(domain: str) -> bool:
    try:
        ipaddress.ip_address(domain)
    except ValueError:
        return False
    return True


def _not_found(name: str) -> Http404:
    return Http404(f"No tenant {name[:63]!r}.")


class TenantMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        registry = current_registry()
        name = self._name(request, registry)
        if name is not None and registry is not None and not registry.exists(name):
            raise _not_found(name)
        with use_tenant(name):
            response: HttpResponse = self.get_response(request)
        return response

    async def __acall__(self, request: HttpRequest) -> Any:
        registry = current_registry()
        if registry is not None and registry.domains.stale():
            await sync_to_async(registry.domains.refresh)()  # a query on default
        name = self._name(request, registry)
        if (
            name is not None
            and registry is not None
            and not await sync_to_async(registry.exists)(name)
        ):
            raise _not_found(name)
        async with use_tenant(name):
            return await self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        """A view (or its template) that needs a tenant the request did not name, or that the
        registry does not know (any more): a 404, like an unknown tenant's request."""
        if isinstance(exception, NoTenantError | UnknownTenantError):
            tenant = getattr(request, "tenant", None)
            raise Http404(
                f"This page needs a tenant and the request names none ({exception})"
                if tenant is None
                else f"No tenant {tenant!r} ({exception})"
            ) from exception

    @staticmethod
    def _name(request: HttpRequest, registry: TenantRegistry | None) -> str | None:
        name = None
        if registry is not None:
            setting = registry.setting
            if setting.get("resolver", "subdomain") == "subdomain":
                name = registry.domains.tenant_of(request.get_host())
            if name is None:
                name = resolve_tenant(request, dict(setting))
        request.tenant = name  # type: ignore[attr-defined]
        return name
