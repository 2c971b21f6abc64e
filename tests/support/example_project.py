"""A throw-away copy of the example SaaS project, on SQLite files, PostgreSQL or MariaDB.

project = ExampleProject.copy(tmp_path, urls={"default": ..., "blog_db": ..., "shop_db": ...})
project.manage("migrate_all")
project.tables("blog_db")          # what the database itself says, read without Django
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django_cfg import DatabaseConfig
from django_cfg.settings.development_key import DEVELOPMENT_KEY_FILE
from tests.support.subprocess_project import SubprocessProject, server_rows

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "saas"
ALIASES = ("default", "blog_db", "shop_db")
URL_VARIABLES = {
    "default": "DATABASE__URL",
    "blog_db": "DATABASE__URL_BLOG",
    "shop_db": "DATABASE__URL_SHOP",
    "replica": "DATABASE__URL_REPLICA",
    "analytics": "DATABASE__URL_ANALYTICS",
    "cache_db": "DATABASE__URL_CACHE",
}


@dataclass
class ExampleProject(SubprocessProject):
    urls: dict[str, str] = field(default_factory=dict)
    """alias -> URL; empty means the example's own SQLite files under db/."""
    settings: dict[str, str] = field(default_factory=dict)
    """Other environment variables: SAAS_TENANTS=1, DATABASE__TENANT_URL (the tenant mode)."""

    @classmethod
    def copy(cls, tmp_path: Path, urls: dict[str, str] | None = None) -> ExampleProject:
        root = tmp_path / "saas"
        # a copy is another checkout: it makes its own development key
        ignore = shutil.ignore_patterns("db", "__pycache__", DEVELOPMENT_KEY_FILE)
        shutil.copytree(EXAMPLE, root, ignore=ignore)
        return cls(root, dict(urls or {}))

    @property
    def env(self) -> dict[str, str]:
        return {**{URL_VARIABLES[a]: url for a, url in self.urls.items()}, **self.settings}

    def migrate_all_at_once(self, runs: int, timeout: float) -> list[str]:
        """``runs`` ``manage.py migrate_all --noinput`` started together (none is left
        running): each must exit 0, and no database may record a migration twice. Their
        outputs."""
        processes = [
            self.popen(*self.MANAGE, "migrate_all", "--noinput", merge_stderr=True)
            for _ in range(runs)
        ]
        try:
            outputs = [process.communicate(timeout=timeout)[0] for process in processes]
        finally:
            for process in processes:
                process.kill()
        assert [process.returncode for process in processes] == [0] * runs, outputs
        for alias in ALIASES:
            rows = self.query(
                alias,
                "SELECT app, name FROM django_migrations GROUP BY app, name HAVING COUNT(*) > 1",
            )
            assert rows == [], f"migrations recorded twice on {alias}"
        return outputs

    def query(self, alias: str, sql: str) -> list[tuple[Any, ...]]:
        """Run ``sql`` on the database behind ``alias`` with the bare driver."""
        url = self.urls.get(alias)
        database = DatabaseConfig.from_url(url) if url is not None else None
        if database is None or database.family == "sqlite":
            name = "default" if alias == "default" else alias.removesuffix("_db")
            relative = database.name if database else f"db/{name}.sqlite3"
            return self.sqlite_rows(relative, sql, must_exist=False)
        return server_rows(url or "", sql)

    def tables(self, alias: str) -> set[str]:
        url = self.urls.get(alias, "sqlite://")
        family = DatabaseConfig.from_url(url).family if alias in self.urls else "sqlite"
        sql = {
            "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table'",
            "postgresql": "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
            "mysql": "SHOW TABLES",
        }[family or "sqlite"]
        return {row[0] for row in self.query(alias, sql)} - {"sqlite_sequence"}
