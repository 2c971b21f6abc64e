"""Migrating N PostgreSQL tenants (issue 23, point 4) beside django-tenants' multiprocessing run.

    python benchmarks/tenant_migrations_vs_schemas.py [--tenants 50] [--rounds 3]

The tenant apps of benchmarks/tenant_project (crm, billing, tickets: 13 migrations) on both
sides, Django's contrib apps shared. Each round, cases interleaved, every command a process
timed from outside (process start included), ``default`` / ``public`` already migrated:

- fresh: N empty tenant databases (ours, ``dcfg_bench_m_*``; ``default`` a SQLite file) or N
  empty schemas with their tenant rows (django-tenants, one database ``bench_dt_main``), made
  before the timer; then ``migrate_all``, ``migrate_all --parallel 2`` (each on its own fresh
  databases) and ``migrate_schemas --executor=multiprocessing`` (its default 2 processes);
- one new migration: an AddField of crm.Company written into the app, then the same commands
  over the migrated tenants (ours: the ``--parallel 2`` databases get it from
  ``migrate_all --parallel 2``, the others from ``migrate_all``).

Each case is checked afterwards (every tenant has ``crm_company``, and after the new migration
its column). Every database is dropped at the end. Prints a Markdown table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tenant_create_vs_schemas import (
    DT_DB,
    PG,
    TENANT_APPS,
    admin,
    drop_all,
    dt_project,
    project_copy,
)
from tenant_project_env import project_env

NEW = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("crm", "0004_lowercase_domains")]
    operations = [migrations.AddField("company", "bench_new", models.IntegerField(default=0))]
"""
DT_SEED = r"""
import sys
import django
django.setup()
from django.db import connection
from dt_customers.models import Client
for name in sys.argv[1:]:
    tenant = Client(schema_name=name, name=name)
    tenant.auto_create_schema = False
    tenant.save()
    with connection.cursor() as cursor:
        cursor.execute('CREATE SCHEMA "%s"' % name)
"""
CASES = {
    "ours": "`migrate_all`",
    "ours_p2": "`migrate_all --parallel 2`",
    "dt": "django-tenants `migrate_schemas --executor=multiprocessing` (2 processes)",
}


def timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def check(databases: dict[str, list[str]], column: bool) -> None:
    import psycopg

    sql = "SELECT count(*) FROM information_schema.columns WHERE table_name = 'crm_company'"
    sql += " AND table_schema = %s" + (" AND column_name = 'bench_new'" if column else "")
    for database, schemas in databases.items():
        with psycopg.connect(f"{PG}/{database}") as connection:
            for schema in schemas:
                row = connection.execute(sql, [schema]).fetchone()  # type: ignore[arg-type]
                assert row, (database, schema)
                assert row[0] > 0, (database, schema, column)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    folder, project = project_copy("bench-mig-dt-")
    (project / "wide").mkdir()  # settings_dt names it; empty here
    (project / "wide" / "__init__.py").write_text("")
    tenants = {case: [f"{case[0]}{case[-1]}{i:03d}" for i in range(args.tenants)] for case in CASES}
    envs = {
        case: project_env(folder, f"{PG}/dcfg_bench_m_{{tenant}}", tenants[case])
        for case in ("ours", "ours_p2")
    }
    dt_env = dt_project(project)
    (project / "settings_dt.py").write_text(
        (project / "settings_dt.py").read_text().replace(repr(TENANT_APPS), repr(TENANT_APPS[:3]))
    )
    envs["dt"] = dt_env
    manage = [sys.executable, "manage.py"]
    commands = {
        "ours": [*manage, "migrate_all", "--noinput", "-v", "0"],
        "ours_p2": [*manage, "migrate_all", "--noinput", "-v", "0", "--parallel", "2"],
        "dt": [*manage, "migrate_schemas", "--executor=multiprocessing", "-v", "0"],
    }
    quiet = {"cwd": project, "check": True, "stdout": subprocess.DEVNULL}
    new = project / "crm" / "migrations" / "0005_bench_new.py"
    times: dict[str, list[float]] = {f"{k} {c}": [] for k in ("fresh", "new") for c in CASES}
    try:
        drop_all()
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=envs["ours"], **quiet)
        subprocess.run([*manage, "makemigrations", "dt_customers", "-v", "0"], env=dt_env, **quiet)
        for r in range(args.rounds):
            new.unlink(missing_ok=True)
            drop_all()  # the tenants, the templates migrate_all keeps, django-tenants' database
            ours = [n for case in ("ours", "ours_p2") for n in tenants[case]]
            admin(
                *(f'CREATE DATABASE "dcfg_bench_m_{n}"' for n in ours), f'CREATE DATABASE "{DT_DB}"'
            )
            subprocess.run([*manage, "migrate_schemas", "--shared", "-v", "0"], env=dt_env, **quiet)
            subprocess.run([sys.executable, "-c", DT_SEED, *tenants["dt"]], env=dt_env, **quiet)
            for step in ("fresh", "new"):
                if step == "new":
                    new.write_text(NEW)
                for case in CASES:
                    took = timed(commands[case], envs[case], project)
                    times[f"{step} {case}"].append(took)
                    print(f"round {r} {step} {case}: {took:.2f}s", file=sys.stderr)
                    databases = (
                        {DT_DB: tenants["dt"]}
                        if case == "dt"
                        else {f"dcfg_bench_m_{n}": ["public"] for n in tenants[case]}
                    )
                    check(databases, column=step == "new")
    finally:
        drop_all()
        shutil.rmtree(folder)
    medians = {key: statistics.median(values) for key, values in times.items()}
    print(f"\n{args.tenants} PostgreSQL tenants, {args.rounds} rounds, medians:\n")
    print("| case | fresh s | x django-tenants | one new migration s | x django-tenants |")
    print("|---|---|---|---|---|")
    for case, label in CASES.items():
        fresh, one = medians[f"fresh {case}"], medians[f"new {case}"]
        print(
            f"| {label} | {fresh:.2f} | {fresh / medians['fresh dt']:.2f}x | {one:.2f} |"
            f" {one / medians['new dt']:.2f}x |"
        )
    print(json.dumps({"tenants": args.tenants, "rounds": args.rounds, **times}))


if __name__ == "__main__":
    main()
