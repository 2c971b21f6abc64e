"""Wall time to migrate 4 fresh PostgreSQL databases: migrate_all vs a shell loop.

    python benchmarks/migrate_all_vs_loop.py [rounds]

Cases, interleaved, each on 4 freshly created databases: a shell loop of
``manage.py migrate --database X`` (4 processes), ``migrate_all`` (1 process, one database
after another) and ``migrate_all --parallel 4``. Prints one JSON line of median seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
ALIASES = {
    "default": "DATABASE__URL",
    "blog_db": "DATABASE__URL_BLOG",
    "shop_db": "DATABASE__URL_SHOP",
    "analytics": "DATABASE__URL_ANALYTICS",
}
LOOP = (
    "for db in default blog_db shop_db analytics; do "
    "{python} manage.py migrate --noinput --database $db -v 0 || exit 1; done"
)
CASES = {
    "shell loop of migrate --database (4 processes)": LOOP,
    "migrate_all": "{python} manage.py migrate_all --noinput -v 0",
    "migrate_all --parallel 4": "{python} manage.py migrate_all --noinput -v 0 --parallel 4",
}


def fresh_databases(admin: psycopg.Connection) -> dict[str, str]:  # type: ignore[type-arg]
    env = {}
    for alias, variable in ALIASES.items():
        name = f"django_cfg_bench_{alias}"
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        env[variable] = f"postgresql://postgres@127.0.0.1:5432/{name}"
    return env


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    project = Path(tempfile.mkdtemp()) / "saas"
    shutil.copytree(ROOT / "examples" / "saas", project, ignore=shutil.ignore_patterns("db"))
    shutil.copy(Path(__file__).parent / "migrate" / "settings.py", project / "bench_settings.py")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "DJANGO_"))}
    base["DJANGO_SETTINGS_MODULE"] = "bench_settings"
    times: dict[str, list[float]] = {case: [] for case in CASES}
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as admin:
        for _ in range(rounds):
            for case, command in CASES.items():
                env = {**base, **fresh_databases(admin)}
                started = time.perf_counter()
                subprocess.run(
                    command.format(python=sys.executable),
                    shell=True,
                    cwd=project,
                    env=env,
                    check=True,
                    capture_output=True,
                )
                times[case].append(time.perf_counter() - started)
        for alias in ALIASES:
            admin.execute(f'DROP DATABASE IF EXISTS "django_cfg_bench_{alias}" WITH (FORCE)')
    shutil.rmtree(project.parent)
    print(json.dumps({case: round(statistics.median(xs), 3) for case, xs in times.items()}))


if __name__ == "__main__":
    main()
