"""A tenant project for tests/tenants, run in a subprocess (tests/tenants/project/run.py).

Its databases come from the environment: TENANT_TEST_DEFAULT_URL (default), TENANT_TEST_URL
(the tenant template), TENANT_TEST_DIR (BASE_DIR: SQLite files land there), TENANT_TEST_NAMES
(a fixed list; unset: the tenants table), TENANT_TEST_MAX_OPEN, TENANT_TEST_RESOLVER,
TENANT_TEST_REPLICA_URLS (replica templates, separated by spaces; with them the replica
probe/retry intervals are 0.2 s / 1 s), TENANT_TEST_REPLICA_MAX_LAG_BYTES,
TENANT_TEST_RECHECK (recheck_seconds), TENANT_TEST_PIN_SECONDS
(read_your_writes_seconds), TENANT_TEST_PASSWORDS (JSON: {"user@host": password}),
TENANT_TEST_TEST_URL (TenantsConfig.test_url), TENANT_TEST_DOMAINS (JSON: TenantsConfig.domains),
TENANT_TEST_UNMIGRATED_FIELD (1: a model change without its migration), TENANT_TEST_SHARED_DELETE
(1: the tenant app ``assignments`` too, tests/tenants/test_shared_delete.py).
"""

import json
import os
from pathlib import Path
from typing import Any

from django_cfg import DatabaseConfig, DjangoConfig, TenantsConfig

_names = os.environ.get("TENANT_TEST_NAMES")
_max_open = os.environ.get("TENANT_TEST_MAX_OPEN")
_replicas = tuple(os.environ.get("TENANT_TEST_REPLICA_URLS", "").split())
_max_lag_bytes = os.environ.get("TENANT_TEST_REPLICA_MAX_LAG_BYTES")
_tenant_apps = ["notes", *(["assignments"] if os.environ.get("TENANT_TEST_SHARED_DELETE") else [])]


class TenantProjectConfig(DjangoConfig):
    project_name: str = "tenant tests"
    root_urlconf: str | None = "tests.tenants.project.urls"
    allowed_hosts: list[str] = ["*"]
    project_apps: list[str] = [f"tests.tenants.project.{app}" for app in _tenant_apps]
    base_dir: Path | None = Path(os.environ["TENANT_TEST_DIR"])
    databases: dict[str, DatabaseConfig] = {
        "default": DatabaseConfig.from_url(os.environ["TENANT_TEST_DEFAULT_URL"])
    }
    tenants: TenantsConfig | None = TenantsConfig(
        apps=_tenant_apps,
        url=os.environ["TENANT_TEST_URL"],
        resolver=os.environ.get("TENANT_TEST_RESOLVER", "header"),
        names=_names.split(",") if _names else None,
        max_open=int(_max_open) if _max_open else None,
        replica_url=_replicas or None,
        replica_max_lag_bytes=int(_max_lag_bytes) if _max_lag_bytes else None,
        recheck_seconds=float(os.environ.get("TENANT_TEST_RECHECK", "5")),
        passwords=json.loads(os.environ.get("TENANT_TEST_PASSWORDS", "{}")),
        test_url=os.environ.get("TENANT_TEST_TEST_URL"),
        domains=json.loads(os.environ.get("TENANT_TEST_DOMAINS", "{}")),
    )
    replica_probe_interval: float = 0.2
    replica_retry_interval: float = 1.0
    read_your_writes_seconds: float = float(os.environ.get("TENANT_TEST_PIN_SECONDS", "5"))
    # Django >= 6.0's tasks framework (tests/tenants/project/notes/tasks.py); unread on 5.2.
    extra_settings: dict[str, Any] = {
        "TASKS": {
            "default": {"BACKEND": "django_cfg.tenants.tasks.TenantImmediateBackend"},
            "deferred": {"BACKEND": "django_cfg.tenants.tasks.TenantDummyBackend"},
        }
    }


config = TenantProjectConfig()
globals().update(config.get_all_settings())
