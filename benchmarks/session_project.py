"""The project of the one-process ORM benchmarks (orm_overhead.py, metrics_overhead.py,
health_check_cost.py): Django's sessions app alone, its table standing for an ordinary model,
DEBUG off as in production, on SQLite or on the shared PostgreSQL and its streaming replica.

    main_url, replica_url = primary_and_replica("sqlite")   # or "postgres"
    settings.configure(**rendered({"default": DatabaseConfig.from_url(main_url)}))

PostgreSQL: DJANGO_CFG_BENCH_POSTGRES_URL and DJANGO_CFG_BENCH_REPLICA_URL (default: a
django_cfg_bench database on 5432 and on its replica, 5433).
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_cfg import DatabaseConfig

POSTGRES_URL = os.environ.get(
    "DJANGO_CFG_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/django_cfg_bench"
)
REPLICA_URL = os.environ.get(
    "DJANGO_CFG_BENCH_REPLICA_URL", "postgresql://postgres@127.0.0.1:5433/django_cfg_bench"
)


def primary_and_replica(engine: str) -> tuple[str, str]:
    """``default``'s URL and its replica's: on ``sqlite`` one new file for both (the replica a
    second connection to it), on ``postgres`` the shared primary and its streaming replica."""
    if engine == "sqlite":
        url = f"sqlite:///{os.path.join(tempfile.mkdtemp(), 'bench.sqlite3')}"
        return url, url
    return POSTGRES_URL, REPLICA_URL


def rendered(databases: dict[str, DatabaseConfig], **options: Any) -> dict[str, Any]:
    """The settings of the sessions-only project over ``databases`` (``options``: more
    ``DjangoConfig`` fields)."""
    from django_cfg import DjangoConfig

    return DjangoConfig(
        databases=databases,
        contrib_apps=["django.contrib.sessions"],
        debug=False,
        secret_key="benchmark-only-" + "k" * 50,
        **options,
    ).get_all_settings()
