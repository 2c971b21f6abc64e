"""``TenantsConfig``: a database per tenant (docs/tenants.md).

    tenants = TenantsConfig(
        apps=["blog", "shop"],                               # tables in every tenant database
        url="postgresql://app@db.example.com/t_{tenant}",   # where a tenant's database is
        replica_url="postgresql://app@replica.example.com/t_{tenant}",  # optional: its replica
        resolver="subdomain",                                # request -> tenant
    )

``DjangoConfig.tenants`` writes it into the ``DJANGO_CFG_TENANTS`` setting (read by
``django_cfg.tenants``) and adds the tenant middleware. The URL template is a secret like every
database URL: its password is never part of a message, and the setting holds the templates as
``SecretStr`` (Django's error reports show ``SecretStr('**********')``; ``passwords`` is hidden
by its name), read with ``template_text``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from django_cfg.settings.config_errors import ConfigModel
from django_cfg.settings.database_config import DatabaseConfig
from django_cfg.settings.hidden_input import hidden_input_validator
from django_cfg.settings.replica_reads import ReplicaReads
from django_cfg.settings.tenant_names import (  # the names below were defined here before
    HASH_PLACEHOLDER,
    PLACEHOLDER,
    TEMPLATE_ALIAS,
    TENANT_ALIAS_PREFIX,
    TENANTS_MIDDLEWARE,
    TENANTS_ROUTER,
    TENANTS_SETTING,
    check_host,
    check_tenant_name,
    fill_template,
    template_text,
    tenant_alias,
    tenant_database_of,
    tenant_of_alias,
    tenant_replica_alias,
)
from django_cfg.settings.url import DatabaseURLError

__all__ = [
    "HASH_PLACEHOLDER",
    "PLACEHOLDER",
    "TEMPLATE_ALIAS",
    "TENANTS_MIDDLEWARE",
    "TENANTS_ROUTER",
    "TENANTS_SETTING",
    "TENANT_ALIAS_PREFIX",
    "TenantsConfig",
    "check_host",
    "check_template",
    "check_tenant_name",
    "fill_template",
    "template_text",
    "tenant_alias",
    "tenant_database_of",
    "tenant_of_alias",
    "tenant_replica_alias",
]

# Compiled at first use (re's own cache), not at every startup (issue 23).
_SERVER_KEY = r"[^@\s:/]+@[^@\s:/]+(:[0-9]{1,5})?"

Resolver = Literal["subdomain", "header", "path"]


def check_template(template: str, field: str) -> str:
    """``template`` if it holds ``{tenant}`` once and reads as a database URL; else ValueError
    naming ``field`` (never the template: it may hold a password)."""
    if template.count(PLACEHOLDER) != 1:
        raise ValueError(
            f"{field} must contain '{{tenant}}' exactly once, where the tenant's name goes "
            "(e.g. 'postgresql://app@db/t_{tenant}')."
        )
    try:  # parsed with a sample name: DatabaseURLError messages never show a password
        DatabaseConfig.from_url(fill_template(template, "sample"))
    except DatabaseURLError as error:
        raise ValueError(f"{field} template: {error}") from None
    return template


class TenantsConfig(ConfigModel):
    """Which apps live in a database per tenant, where those databases are, and how a request
    names its tenant."""

    # defer_build: its validator is built at its first use, not at every import of django_cfg
    # (DjangoConfig's own schema holds it; most projects have no tenants)
    model_config = ConfigDict(
        frozen=True, extra="forbid", hide_input_in_errors=True, defer_build=True
    )
    _hide_input = hidden_input_validator()

    apps: tuple[str, ...] = Field(min_length=1, description="App labels of the tenant apps")
    url: SecretStr = Field(
        description="Database URL template with a '{tenant}' placeholder, e.g. "
        "'postgresql://app@db/t_{tenant}' or 'sqlite:///tenants/{tenant}.sqlite3'; "
        "'{tenant_hash2}' (optional) spreads files over 256 folders: "
        "'sqlite:///tenants/{tenant_hash2}/{tenant}.sqlite3'"
    )
    replica_url: SecretStr | tuple[SecretStr, ...] | None = Field(
        default=None,
        description="Where each tenant's read replica is: a template like url (with "
        "'{tenant}'), or a tuple of templates for several replicas",
    )
    replica_read_weight: float = Field(
        default=1.0, ge=0, description="Each tenant replica's share of its tenant's reads"
    )
    replica_max_lag_seconds: float | None = Field(
        default=None, gt=0, description="Skip a tenant replica while it is further behind"
    )
    replica_max_lag_bytes: int | None = Field(
        default=None, gt=0, description="Skip a tenant replica while it is more WAL bytes behind"
    )
    resolver: Resolver | Callable[[Any], str | None] | str = Field(
        default="subdomain",
        description="'subdomain', 'header', 'path', a callable(request) -> name | None, or its "
        "dotted path",
    )
    header: str = Field(default="X-Tenant", description="The request header of resolver='header'")
    shared_hosts: tuple[str, ...] = Field(
        default=(),
        description="Hosts that name no tenant with resolver='subdomain' (the bare domain, "
        "'www.example.com', 'api.example.com'): their requests run with none, like an IP host",
    )
    domains: dict[str, str] = Field(
        default_factory=dict,
        description="A tenant's own domains with resolver='subdomain': host -> tenant name "
        "({'acme.com': 'acme'}), checked before the subdomain rule; with the tenants table, "
        "also create_tenant --domain (stored on the tenant's row)",
    )
    names: tuple[str, ...] | None = Field(
        default=None,
        description="A fixed list of tenants; None: the tenants table in default "
        "(manage.py create_tenant)",
    )
    max_open: int | None = Field(
        default=None,
        ge=1,
        description="Most tenant databases open at once; the least recently used are closed",
    )
    test_url: SecretStr | None = Field(
        default=None,
        description="Where the tenants' test databases are (a template like url); unset: "
        "url with 'test-' before its database name, never a tenant's database name "
        "(django_cfg.tenants.testing)",
    )
    recheck_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often a process re-reads the tenants-table row of a tenant it has open "
        "(a move or a drop in another process is noticed within this time)",
    )
    passwords: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Passwords of tenant database servers, keyed 'user@host' or "
        "'user@host:port': the tenants table stores URLs without one",
    )

    @field_validator("apps")
    @classmethod
    def _check_apps(cls, apps: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(apps)) != len(apps):
            raise ValueError(f"apps lists an app twice: {list(apps)!r}.")
        return apps

    @field_validator("url", "test_url")
    @classmethod
    def _check_url(cls, url: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if url is not None:
            check_template(url.get_secret_value(), str(info.field_name))
        return url

    @field_validator("replica_url")
    @classmethod
    def _check_replica_url(
        cls, urls: SecretStr | tuple[SecretStr, ...] | None
    ) -> SecretStr | tuple[SecretStr, ...] | None:
        several = isinstance(urls, tuple)
        for number, url in enumerate(_as_tuple(urls), start=1):
            check_template(
                url.get_secret_value(), f"replica_url[{number - 1}]" if several else "replica_url"
            )
        if several and not urls:
            raise ValueError("replica_url is an empty tuple: leave it unset for no replicas.")
        return urls

    @field_validator("names")
    @classmethod
    def _check_names(cls, names: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if names is not None:
            for name in names:
                check_tenant_name(name)
            if len(set(names)) != len(names):
                raise ValueError("names lists a tenant twice.")
        return names

    @field_validator("shared_hosts", mode="before")
    @classmethod
    def _check_shared_hosts(cls, hosts: Any) -> Any:
        if isinstance(hosts, str):
            raise ValueError(f"shared_hosts is a list of hosts, not a string: [{hosts!r}].")
        return hosts

    @field_validator("shared_hosts")
    @classmethod
    def _normalise_shared_hosts(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        normalised = tuple(check_host(host) for host in hosts)
        if len(set(normalised)) != len(normalised):
            raise ValueError(f"shared_hosts lists a host twice: {list(hosts)!r}.")
        return normalised

    @field_validator("domains")
    @classmethod
    def _check_domains(cls, domains: dict[str, str]) -> dict[str, str]:
        normalised = {
            check_host(host, "domains"): check_tenant_name(n) for host, n in domains.items()
        }
        if len(normalised) != len(domains):
            raise ValueError(f"domains lists a host twice: {sorted(domains)!r}.")
        return normalised

    @field_validator("passwords")
    @classmethod
    def _check_passwords(cls, passwords: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for key in passwords:
            if not re.fullmatch(_SERVER_KEY, key):
                raise ValueError(  # the key is not shown: it may hold a password by mistake
                    "a passwords key is not 'user@host' or 'user@host:port' "
                    "(e.g. 'app@db2.example.com:5432'; no password in the key)."
                )
        return passwords

    @model_validator(mode="after")
    def _check_replicas(self) -> TenantsConfig:
        options = self.replica_reads.given(prefix="replica_")
        if self.replica_url is None and options:
            raise ValueError(
                f"{', '.join(options)} only apply to tenant replicas; set replica_url too."
            )
        family = DatabaseConfig.from_url(self.database_url("sample")).family
        for number, template in enumerate(self.replica_templates):
            replica = DatabaseConfig.from_url(fill_template(template, "sample"))
            if family is not None and replica.family != family:
                raise ValueError(
                    f"replica_url[{number}] is a {replica.family} database but url is "
                    f"{family}: a replica is a copy of the tenant's database, on the same engine."
                )
        return self

    @model_validator(mode="after")
    def _check_resolver(self) -> TenantsConfig:
        resolver = self.resolver
        if (
            isinstance(resolver, str)
            and resolver not in ("subdomain", "header", "path")
            and ("." not in resolver)
        ):
            raise ValueError(
                f"resolver {resolver!r}: use 'subdomain', 'header', 'path', a callable "
                "(request -> tenant name or None) or the dotted path of one."
            )
        if self.shared_hosts and resolver != "subdomain":
            raise ValueError(
                f"shared_hosts only applies to resolver='subdomain' (resolver is {resolver!r}): "
                "with another resolver a request names its tenant without its host."
            )
        return self

    @model_validator(mode="after")
    def _check_domains_fit(self) -> TenantsConfig:
        if self.domains and self.resolver != "subdomain":
            raise ValueError(
                f"domains only applies to resolver='subdomain' (resolver is {self.resolver!r}): "
                "with another resolver a request names its tenant without its host."
            )
        unlisted = sorted(
            {name for name in self.domains.values() if name not in (self.names or ())}
        )
        if self.names is not None and unlisted:
            raise ValueError(f"domains names tenants that are not in names: {unlisted}.")
        both = sorted(set(self.domains) & set(self.shared_hosts))
        if both:
            raise ValueError(f"{both}: in shared_hosts and in domains; a host is one or the other.")
        return self

    def database_url(self, name: str) -> str:
        return fill_template(self.url.get_secret_value(), check_tenant_name(name))

    def database(self, name: str) -> DatabaseConfig:
        """Tenant ``name``'s database from the template."""
        return DatabaseConfig.from_url(self.database_url(name))

    @property
    def replica_templates(self) -> tuple[str, ...]:
        """The replica URL templates (none without ``replica_url``)."""
        return tuple(url.get_secret_value() for url in _as_tuple(self.replica_url))

    @property
    def replica_reads(self) -> ReplicaReads:
        """Each tenant replica's share of its tenant's reads and its lag bounds."""
        return ReplicaReads(
            self.replica_read_weight, self.replica_max_lag_seconds, self.replica_max_lag_bytes
        )

    @property
    def has_replicas(self) -> bool:
        return self.replica_url is not None

    def setting(self) -> dict[str, Any]:
        """The ``DJANGO_CFG_TENANTS`` setting that ``django_cfg.tenants`` reads."""
        return {
            "apps": list(self.apps),
            "url": self.url,  # SecretStr: hidden in Django's error reports (template_text)
            "replica_urls": list(_as_tuple(self.replica_url)),
            "replica_role": self.replica_reads.role(),
            "resolver": self.resolver,
            "header": self.header,
            "shared_hosts": list(self.shared_hosts),
            "domains": dict(self.domains),
            "names": list(self.names) if self.names is not None else None,
            "max_open": self.max_open,
            "test_url": self.test_url,
            "recheck_seconds": self.recheck_seconds,
            "passwords": dict(self.passwords),  # SecretStr values: never shown
        }


def _as_tuple(urls: SecretStr | tuple[SecretStr, ...] | None) -> tuple[SecretStr, ...]:
    if urls is None:
        return ()
    return urls if isinstance(urls, tuple) else (urls,)
