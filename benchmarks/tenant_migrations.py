"""Migrating new tenant databases: ``migrate_all`` against a shell loop of ``migrate --database``.

    python benchmarks/tenant_migrations.py [--sqlite 200] [--postgres 20] [--rounds 3]

The project is benchmarks/tenant_project: three tenant apps (crm, billing, tickets: 13
migrations with foreign keys, indexes, a many-to-many, AlterField table rebuilds, a RunPython,
a one-off default) plus Django's contrib apps and django_cfg's in ``default``. Cases, interleaved
over the rounds, each on fresh databases (SQLite files in a new folder; PostgreSQL databases
``django_cfg_bench_tenants_*`` created before the timer starts, dropped at the end):

- the shell loop: ``migrate`` (default), then ``migrate --database tenant_N`` for each tenant,
  one process each, the tenants listed as fixed aliases in DATABASES with a router sending the
  tenant apps there (``BENCH_MODE=static``: what a project without django_cfg's tenants does);
- ``migrate_all`` and ``migrate_all --parallel 4`` with ``TenantsConfig(names=...)``.

Every run is checked afterwards (each tenant has the tenant tables and the same
django_migrations rows). Prints a Markdown table per engine and one JSON line of medians.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

from tenant_project_env import PROJECT, clean_environment

PG = "postgresql://postgres@127.0.0.1:5432"
PG_PREFIX = "django_cfg_bench_tenants"
LOOP = (
    "{python} manage.py migrate --noinput -v 0 && "
    "for t in {names}; do {python} manage.py migrate --noinput -v 0 --database tenant_$t "
    "|| exit 1; done"
)
CASES = {
    "shell loop of `migrate --database` (1 process per database)": ("static", LOOP),
    "`migrate_all`": ("tenants", "{python} manage.py migrate_all --noinput -v 0"),
    "`migrate_all --parallel 4`": (
        "tenants",
        "{python} manage.py migrate_all --noinput -v 0 --parallel 4",
    ),
}
TENANT_TABLES = {"crm_company", "billing_payment", "tickets_ticket_labels", "tickets_comment"}


def names(count: int) -> list[str]:
    return [f"t{i:03d}" for i in range(count)]


def run_case(command: str, mode: str, env: dict[str, str], tenants: list[str]) -> float:
    env = {**env, "BENCH_MODE": mode, "BENCH_TENANTS": ",".join(tenants)}
    shell = command.format(python=sys.executable, names=" ".join(tenants))
    started = time.perf_counter()
    subprocess.run(shell, shell=True, cwd=PROJECT, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def sqlite_round(tenants: list[str], command: str, mode: str, base: dict[str, str]) -> float:
    folder = Path(tempfile.mkdtemp(prefix="bench-tenants-"))
    try:
        env = {
            **base,
            "BENCH_DIR": str(folder),
            "BENCH_DEFAULT_URL": "sqlite:///default.sqlite3",
            "BENCH_TENANT_URL": "sqlite:///tenants/{tenant}.sqlite3",
        }
        (folder / "tenants").mkdir()
        took = run_case(command, mode, env, tenants)
        rows = set()
        for name in tenants:
            with closing(sqlite3.connect(folder / "tenants" / f"{name}.sqlite3")) as db:
                tables = {t for (t,) in db.execute("SELECT name FROM sqlite_master")}
                assert tables >= TENANT_TABLES, (name, tables)
                rows.add(frozenset(db.execute("SELECT app, name FROM django_migrations")))
        assert len(rows) == 1, f"tenants differ in django_migrations ({mode})"
        return took
    finally:
        shutil.rmtree(folder)


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(sql)  # type: ignore[arg-type]


def pg_round(tenants: list[str], command: str, mode: str, base: dict[str, str]) -> float:
    import psycopg

    databases = [f"{PG_PREFIX}_default", *(f"{PG_PREFIX}_{n}" for n in tenants)]
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        for name in databases:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
            admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    env = {
        **base,
        "BENCH_DEFAULT_URL": f"{PG}/{PG_PREFIX}_default",
        "BENCH_TENANT_URL": f"{PG}/{PG_PREFIX}_{{tenant}}",
    }
    took = run_case(command, mode, env, tenants)
    rows = set()
    for name in tenants:
        with psycopg.connect(f"{PG}/{PG_PREFIX}_{name}") as db:
            tables = {t for (t,) in db.execute("SELECT tablename FROM pg_tables")}
            assert tables >= TENANT_TABLES, (name, tables)
            rows.add(frozenset(db.execute("SELECT app, name FROM django_migrations").fetchall()))
    assert len(rows) == 1, f"tenants differ in django_migrations ({mode})"
    return took


def drop_pg(tenants: list[str]) -> None:
    for name in ["default", *tenants]:
        pg_admin(f'DROP DATABASE IF EXISTS "{PG_PREFIX}_{name}" WITH (FORCE)')


def measure(engine: str, count: int, rounds: int) -> dict[str, list[float]]:
    tenants = names(count)
    base = clean_environment()
    times: dict[str, list[float]] = {case: [] for case in CASES}
    one_round = sqlite_round if engine == "sqlite" else pg_round
    try:
        for _ in range(rounds):
            for case, (mode, command) in CASES.items():
                times[case].append(one_round(tenants, command, mode, base))
                print(f"{engine} {count}: {case}: {times[case][-1]:.2f}s", file=sys.stderr)
    finally:
        if engine == "postgres":
            drop_pg(tenants)
    return times


def table(title: str, times: dict[str, list[float]]) -> str:
    loop = statistics.median(next(iter(times.values())))
    lines = [
        f"{title}",
        "",
        "| case | median s | rounds (s) | faster than the loop |",
        "|---|---|---|---|",
    ]
    for case, values in times.items():
        median = statistics.median(values)
        shown = ", ".join(f"{v:.1f}" for v in values)
        lines.append(f"| {case} | {median:.1f} | {shown} | {loop / median:.1f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", type=int, default=200, metavar="N")
    parser.add_argument("--postgres", type=int, default=20, metavar="N")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = {}
    if args.sqlite:
        results[f"sqlite_{args.sqlite}"] = measure("sqlite", args.sqlite, args.rounds)
        print(table(f"{args.sqlite} SQLite tenants (files):", results[f"sqlite_{args.sqlite}"]))
    if args.postgres:
        key = f"postgres_{args.postgres}"
        results[key] = measure("postgres", args.postgres, args.rounds)
        print(table(f"{args.postgres} PostgreSQL tenant databases:", results[key]))
    medians = {
        key: {case: round(statistics.median(xs), 2) for case, xs in times.items()}
        for key, times in results.items()
    }
    print(json.dumps(medians))


if __name__ == "__main__":
    main()
