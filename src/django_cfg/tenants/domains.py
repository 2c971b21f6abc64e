"""A tenant's own domains: ``acme.com`` is tenant ``acme``, before the subdomain rule.

    TenantsConfig(..., resolver="subdomain", domains={"acme.com": "acme"})  # names: settings
    # python manage.py create_tenant acme --domain acme.com    # the tenants table: its row

    registry.domains.tenant_of("acme.com:8000")   # "acme"; None: no tenant's own domain
    add_domains(registry.domains, "acme", ["www.acme.com"])  # kept on acme's row (the admin too)

The middleware asks ``tenant_of`` first (``resolver="subdomain"`` only), then the subdomain
rule. The hosts of the tenants table are read in one query, again once older than
``TenantsConfig.recheck_seconds`` (a domain added elsewhere is served within that time).

A domain names one tenant, also when two processes claim it at once (``create_tenant --domain``
here, ``add_domains`` or the admin there): a domain is checked and written under
``domain_claims()``, one lock on ``default``'s server (``runtime.server_locks``: an advisory
lock on PostgreSQL, ``GET_LOCK`` on MySQL, a lock file beside a SQLite file), so the second
claimer reads the first one's row and is refused, naming the owner.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError

from django_cfg.runtime.server_locks import server_lock
from django_cfg.settings.tenant_names import check_host

__all__ = ["TenantDomains", "add_domains", "checked_domains", "domain_claims", "host_name"]

DOMAIN_CLAIMS_LOCK = "tenant-domains"
"""The ``server_lock`` on ``default`` under which tenants' domains are checked and written."""


def host_name(host: str) -> str:
    """``host`` (a Host header, maybe with a port) as domains are kept: lower case, no port, no
    trailing dot."""
    host = host.lower()
    if host.startswith("["):  # an IPv6 literal, maybe with a port: never a tenant's domain
        return host.partition("]")[0] + "]"
    return host.partition(":")[0].rstrip(".")


class TenantDomains:
    """Host -> tenant, from ``TenantsConfig.domains`` and (with the tenants table) the rows."""

    def __init__(self, fixed: Mapping[str, str], table: bool, recheck_seconds: float) -> None:
        self.fixed = dict(fixed)
        self.table = table
        self.recheck_seconds = recheck_seconds
        self._rows: dict[str, str] = {}
        self._due = 0.0  # when to read the rows again (monotonic)
        self._lock = threading.Lock()

    def tenant_of(self, host: str) -> str | None:
        """The tenant whose own domain ``host`` is, or None. Reads the rows when they are due
        (a query on ``default``: from async code, ``refresh()`` in a thread first)."""
        domain = host_name(host)
        name = self.fixed.get(domain)
        if name is not None or not self.table or not _may_be_a_domain(domain):
            return name
        if self.stale():
            self.refresh()
        return self._rows.get(domain)

    def stale(self) -> bool:
        return self.table and self._due <= time.monotonic()

    def refresh(self) -> None:
        """Read every ready tenant's domains (``default`` unreachable: keep the last ones)."""
        from django_cfg.tenants.models import UNROUTABLE, Tenant

        with self._lock:
            if not self.stale():
                return
            rows = Tenant._default_manager.using(DEFAULT_DB_ALIAS).exclude(state__in=UNROUTABLE)
            try:
                found = {
                    domain: name
                    for name, domains in rows.values_list("name", "domains")
                    for domain in domains or ()
                }
            except DatabaseError:
                found = self._rows
            self._rows = found
            self._due = time.monotonic() + self.recheck_seconds

    def forget(self) -> None:
        """Read the rows at the next lookup (a domain was just added here)."""
        self._due = 0.0

    def owner(self, domain: str) -> str | None:
        """Which tenant has ``domain`` now (settings, or any row: ready or not)."""
        from django_cfg.tenants.models import Tenant

        if domain in self.fixed:
            return self.fixed[domain]
        if not self.table:
            return None
        for name, domains in Tenant._default_manager.using(DEFAULT_DB_ALIAS).values_list(
            "name", "domains"
        ):
            if domain in (domains or ()):
                return str(name)
        return None


def _may_be_a_domain(domain: str) -> bool:
    """Whether ``domain`` could be a tenant's (a host name; an IP host never is: health checks
    on ``10.0.0.12`` read no table)."""
    try:
        ipaddress.ip_address(domain.strip("[]"))
    except ValueError:
        return True
    return False


def checked_domains(domains: TenantDomains, name: str, hosts: Iterable[str]) -> list[str]:
    """``hosts`` as kept (lower case, no trailing dot), each a host name that no other tenant
    has; else ValueError saying which and why."""
    if not domains.table:
        raise ValueError(
            "--domain: this project lists its tenants in TenantsConfig.names, so no row can keep "
            "a tenant's domains: map them in settings, TenantsConfig.domains = "
            f"{{'{next(iter(hosts), 'acme.com')}': '{name}'}}."
        )
    checked = list(dict.fromkeys(check_host(host, "--domain") for host in hosts))
    for domain in checked:
        owner = domains.owner(domain)
        if owner is not None and owner != name:
            raise ValueError(
                f"--domain {domain}: it is tenant {owner!r}'s domain already; a domain names "
                "one tenant (remove it there first, in the admin)."
            )
    return checked


@contextmanager
def domain_claims() -> Iterator[None]:
    """Check and write tenants' domains in this block, one process or thread at a time (it
    waits for the holder; begin it outside a transaction on ``default``, so that the reads
    inside see what the last holder committed)."""
    with server_lock(DEFAULT_DB_ALIAS, DOMAIN_CLAIMS_LOCK):
        yield


def add_domains(domains: TenantDomains, name: str, hosts: Iterable[str]) -> list[str]:
    """Add ``hosts`` (checked: ``checked_domains``) to tenant ``name``'s row; its domains.
    Two claims of one domain at once leave one owner: the other is a ValueError naming it
    (call it outside a transaction on ``default``: a claim inside one is seen by the next
    claimer only once that transaction commits)."""
    from django_cfg.tenants.models import Tenant

    hosts = list(hosts)
    with domain_claims():
        added = checked_domains(domains, name, hosts)
        row: Any = Tenant._default_manager.using(DEFAULT_DB_ALIAS).get(name=name)
        kept = list(dict.fromkeys([*(row.domains or ()), *added]))
        if kept != list(row.domains or ()):
            row.domains = kept
            row.save(update_fields=["domains"])
    domains.forget()
    return kept
