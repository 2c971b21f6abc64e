"""``manage.py create_tenant NAME... [--if-not-exists] [--url URL] [--domain HOST] [--adopt]``:
create a tenant's database, migrate it, then make it routable (``django_cfg.tenants.lifecycle``;
the same as ``create_tenant()``).

    python manage.py create_tenant acme
    python manage.py create_tenant acme beta gamma --if-not-exists   # idempotent (scripts)
    python manage.py create_tenant acme --domain acme.com --domain www.acme.com
    python manage.py create_tenant big_co --url postgresql://app@db2.example.com/t_big_co \
        --replica-url postgresql://app@db2-replica.example.com/t_big_co

The URL holds no password: the tenants table would keep it in plain text. The password comes
from ``TenantsConfig.passwords`` or the template (``django_cfg.tenants.credentials``).

The tenant is recorded first as being created (requests to it get a 404), its database is
created where the engine allows (a SQLite file; CREATE DATABASE on PostgreSQL and MariaDB,
which needs that right), the tenant apps are migrated there, and only then is it routable. A
running server sees the new tenant at its next request: no restart. Interrupted (even by
kill -9), the same command finishes it. A database that already holds tables is refused unless
``--adopt``. Several names are created one after the other, each failure isolated. Exit status
1: any refused or failed (the message says why), "already exists" too unless
``--if-not-exists`` (a tenant that exists is then kept as it is, given ``--domain`` added).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_cfg.management.output import summary
from django_cfg.management.tenant_commands import add_tenant_url_option, tenants_registry
from django_cfg.tenants.domains import add_domains, checked_domains
from django_cfg.tenants.lifecycle import TenantExistsError, TenantLifecycleError, create_tenant
from django_cfg.tenants.registry import TenantRegistry


class Command(BaseCommand):
    help = (
        "Creates tenants' databases, migrates the tenant apps there and makes the tenants "
        "routable; finishes an interrupted creation of the same name."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "names", nargs="+", metavar="name", help="Tenant names: a-z, 0-9 and '_', 1 to 63."
        )
        parser.add_argument(
            "--if-not-exists",
            action="store_true",
            help="A tenant that exists already is kept (not an error): safe to run again.",
        )
        add_tenant_url_option(
            parser, "The tenant's database URL, when not the template's (another server)"
        )
        parser.add_argument(
            "--replica-url",
            action="append",
            default=[],
            dest="replica_urls",
            help="A replica of the tenant's database (repeatable), when not the replica "
            "templates' (TenantsConfig.replica_url); a tenant with --url has only these.",
        )
        parser.add_argument(
            "--domain",
            action="append",
            default=[],
            dest="domains",
            help="A domain of the tenant's own (repeatable): requests to it run as the tenant "
            "(resolver='subdomain'; also in ALLOWED_HOSTS).",
        )
        parser.add_argument(
            "--adopt",
            action="store_true",
            help="Take over a database that already holds tables (its data becomes the "
            "tenant's); without it such a database is refused.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        names: list[str] = options["names"]
        one_tenant = {"--url": options["url"], "--replica-url": options["replica_urls"]}
        one_only = [option for option, given in one_tenant.items() if given]
        one_only += ["--domain"] if options["domains"] else []
        if len(names) > 1 and one_only:
            raise CommandError(
                f"{', '.join(one_only)}: for one tenant only; give one name with it "
                f"(got {len(names)}: {' '.join(names)})."
            )
        registry = tenants_registry()
        outcomes: dict[str, int] = {"created": 0, "already existed": 0}
        failures: dict[str, str] = {}
        for name in names:
            try:
                outcome = self._create(registry, name, options)
            except (TenantLifecycleError, ValueError) as error:
                failures[name] = str(error)
                if len(names) > 1:
                    self.stderr.write(self.style.ERROR(f"{name}: {error}"))
                continue
            outcomes[outcome] += 1
        if len(names) == 1 and failures:
            raise CommandError(next(iter(failures.values())))
        if failures:
            raise CommandError(
                f"{len(failures)} of {len(names)} tenants not created; "
                + summary(outcomes, failures)
            )
        if len(names) > 1 and options["verbosity"] >= 1:
            self.stdout.write(summary(outcomes, {}))

    def _create(self, registry: TenantRegistry, name: str, options: dict[str, Any]) -> str:
        """Create tenant ``name`` (or keep it, with ``--if-not-exists``): what happened."""
        verbosity: int = options["verbosity"]
        if options["domains"]:
            checked_domains(registry.domains, name, options["domains"])
        if options["if_not_exists"] and _ready(registry, name):
            return self._kept(registry, name, options)
        try:
            tenant = create_tenant(
                name,
                url=options["url"],
                replica_urls=options["replica_urls"],
                adopt=options["adopt"] or (options["if_not_exists"] and registry.fixed is not None),
                verbosity=verbosity,
                stdout=self.stdout,
            )
        except TenantExistsError:
            if options["if_not_exists"] and _ready(registry, name):  # created meanwhile
                return self._kept(registry, name, options)
            raise
        domains = _claimed(registry, name, options["domains"], created=True)
        if verbosity >= 1:
            done = "copied from the migrated template" if tenant.cloned else "migrated"
            self.stdout.write(
                f"Tenant {tenant.name!r}: database {tenant.database} ({tenant.how}), {done}, "
                "recorded."
            )
            for replica in tenant.replicas:
                self.stdout.write(f"  replica: {replica}")
            if domains:
                self.stdout.write(f"  domains: {', '.join(domains)}")
        return "created"

    def _kept(self, registry: TenantRegistry, name: str, options: dict[str, Any]) -> str:
        domains = _claimed(registry, name, options["domains"], created=False)
        if options["verbosity"] >= 1:
            also = f"; domains: {', '.join(domains)}" if domains else ""
            self.stdout.write(f"Tenant {name!r}: already exists, kept{also}.")
        return "already existed"


def _claimed(registry: TenantRegistry, name: str, hosts: list[str], created: bool) -> list[str]:
    """Tenant ``name``'s domains once ``hosts`` are added (none: nothing added). A domain that
    another process gave another tenant since the check before the creation is a ValueError
    naming the owner, and saying that ``name`` was created without it."""
    if not hosts:
        return []
    try:
        return add_domains(registry.domains, name, hosts)
    except ValueError as error:
        if not created:
            raise
        raise ValueError(
            f"{error} Tenant {name!r} was created meanwhile, without the domains "
            f"{' '.join(hosts)} (another process claimed one while it was created)."
        ) from None


def _ready(registry: TenantRegistry, name: str) -> bool:
    """Whether tenant ``name`` exists and is routable (recorded and ready)."""
    return registry.fixed is None and registry.exists(name)
