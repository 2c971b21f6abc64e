"""django_cfg's side of benchmarks/tenant_switch_postgres.py: a database per tenant.

BENCH23_TENANT_URL: the tenant template ('{tenant}'); BENCH23_DEFAULT_URL: default's database;
BENCH23_TENANTS: how many tenants (t000, t001, ...); BENCH23_MAX_OPEN: TenantsConfig.max_open
(unset: unbounded).
"""

import os

from django_cfg import DatabaseConfig, DjangoConfig, TenantsConfig

_max_open = os.environ.get("BENCH23_MAX_OPEN")


class SwitchBenchConfig(DjangoConfig):
    project_name: str = "tenant switch benchmark"
    root_urlconf: str | None = "benchmarks.tenant_switch.urls"
    debug: bool = False
    secret_key: str = "benchmark-only-" + "x" * 50
    allowed_hosts: list[str] = ["*"]
    secure_ssl_redirect: bool | None = False  # the benchmark requests plain http
    project_apps: list[str] = ["benchmarks.tenant_switch.pages"]
    databases: dict[str, DatabaseConfig] = {
        "default": DatabaseConfig.from_url(os.environ["BENCH23_DEFAULT_URL"])
    }
    tenants: TenantsConfig | None = TenantsConfig(
        apps=["pages"],
        url=os.environ["BENCH23_TENANT_URL"],
        resolver="subdomain",
        names=[f"t{i:03d}" for i in range(int(os.environ["BENCH23_TENANTS"]))],
        max_open=int(_max_open) if _max_open else None,
    )


config = SwitchBenchConfig()
globals().update(config.get_all_settings())
