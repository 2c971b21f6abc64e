"""A throw-away tenant project (tests/tenants/project) with its databases in ``tmp_path``."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.spec_page import run_python

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class TenantProject:
    root: Path
    tenant_url: str
    default_url: str = "sqlite:///default.sqlite3"
    names: list[str] | None = None
    max_open: int | None = None
    resolver: str = "header"

    @property
    def env(self) -> dict[str, str]:
        env = {
            "DJANGO_SETTINGS_MODULE": "tests.tenants.project.settings",
            "TENANT_TEST_DIR": str(self.root),
            "TENANT_TEST_DEFAULT_URL": self.default_url,
            "TENANT_TEST_URL": self.tenant_url,
            "TENANT_TEST_RESOLVER": self.resolver,
        }
        if self.names is not None:
            env["TENANT_TEST_NAMES"] = ",".join(self.names)
        if self.max_open is not None:
            env["TENANT_TEST_MAX_OPEN"] = str(self.max_open)
        return env

    def manage(self, *args: str, check: bool = True, stdin: str | None = None) -> str:
        return run_python(
            "-m", "tests.tenants.project.run", "manage", *args,
            cwd=ROOT, env=self.env, check=check, stdin=stdin,
        )  # fmt: skip

    def scenario(self, name: str, *args: str) -> dict[str, Any]:
        out = run_python("-m", "tests.tenants.project.run", name, *args, cwd=ROOT, env=self.env)
        result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return result

    def sqlite_rows(self, relative: str, sql: str) -> list[tuple[Any, ...]]:
        """``sql`` on the SQLite file ``relative`` to the project, read without Django."""
        path = self.root / relative
        assert path.exists(), f"{path} does not exist"
        with closing(sqlite3.connect(path)) as connection:
            return connection.execute(sql).fetchall()

    def sqlite_tables(self, relative: str) -> set[str]:
        rows = self.sqlite_rows(relative, "SELECT name FROM sqlite_master WHERE type='table'")
        return {name for (name,) in rows}
