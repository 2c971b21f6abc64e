"""How the tenant benchmarks run benchmarks/tenant_project: its folder, and the environment its
settings.py reads (the BENCH_* variables it documents).

    env = project_env(folder, "sqlite:///tenants/{tenant}.sqlite3", names, BENCH_MAX_OPEN="8")
    subprocess.run([sys.executable, "manage.py", "migrate"], cwd=PROJECT, env=env, check=True)
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT = Path(__file__).resolve().parent / "tenant_project"


def clean_environment() -> dict[str, str]:
    """This process's environment without its DJANGO_* and BENCH_* variables, the project's
    settings module set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "BENCH_"))}
    return {**env, "DJANGO_SETTINGS_MODULE": "settings"}


def project_env(folder: Path, template: str, names: list[str], **more: str) -> dict[str, str]:
    """The project's files under ``folder`` (``default`` a SQLite file there), the tenants
    ``names`` at the URL ``template``; ``more``: other BENCH_* variables."""
    return {
        **clean_environment(),
        "BENCH_DIR": str(folder),
        "BENCH_DEFAULT_URL": "sqlite:///default.sqlite3",
        "BENCH_TENANT_URL": template,
        "BENCH_TENANTS": ",".join(names),
        **more,
    }
