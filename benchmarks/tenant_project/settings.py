"""The tenant project of benchmarks/tenant_migrations.py: three tenant apps, shared apps in default.

BENCH_DEFAULT_URL: default's database. BENCH_TENANT_URL: the tenant template ('{tenant}').
BENCH_TENANTS: comma-separated tenant names. BENCH_MODE=static: no TenantsConfig; every tenant
is a fixed alias ``tenant_NAME`` in DATABASES and a router sends the tenant apps there (what a
project does by hand to run ``migrate --database tenant_NAME``); otherwise TenantsConfig(names=...).
"""

import os
from pathlib import Path

from django_cfg import DatabaseConfig, DjangoConfig, TenantsConfig

# BENCH_EXTRA_APPS: more tenant apps (benchmarks/tenant_create.py adds one of 30 migrations).
TENANT_APPS = (
    "crm",
    "billing",
    "tickets",
    *filter(None, os.environ.get("BENCH_EXTRA_APPS", "").split(",")),
)
_names = os.environ["BENCH_TENANTS"].split(",")
_template = os.environ["BENCH_TENANT_URL"]
_static = os.environ.get("BENCH_MODE") == "static"
_max_open = os.environ.get("BENCH_MAX_OPEN")

_databases = {"default": DatabaseConfig.from_url(os.environ["BENCH_DEFAULT_URL"])}
if _static:
    _databases.update(
        {f"tenant_{n}": DatabaseConfig.from_url(_template.replace("{tenant}", n)) for n in _names}
    )


class BenchConfig(DjangoConfig):
    project_name: str = "tenant migration benchmark"
    # Static: the tenants table's app too, so both modes have the same apps and migrations.
    project_apps: list[str] = [*TENANT_APPS, *(["django_cfg.tenants"] if _static else [])]
    base_dir: Path | None = Path(os.environ.get("BENCH_DIR", Path(__file__).parent))
    databases: dict[str, DatabaseConfig] = _databases
    database_routers: list[str] = ["routers.StaticTenantRouter"] if _static else []
    tenants: TenantsConfig | None = (
        None
        if _static
        else TenantsConfig(
            apps=TENANT_APPS,
            url=_template,
            names=_names,
            max_open=int(_max_open) if _max_open else None,
        )
    )


config = BenchConfig()
globals().update(config.get_all_settings())
