"""Migrating N PostgreSQL tenants (issue 23, point 4) beside django-tenants' multiprocessing run.

    python benchmarks/tenant_migrations_vs_schemas.py [--tenants 50] [--rounds 3]
        [--prefix dcfg_bench_m_] [--cases ours,ours_p2,dt,floor,floor_p2] [--before SRC]

``--before /tmp/old/src`` with ``--cases ...,before,before_p2``: the same commands with an older
django_cfg first on PYTHONPATH (e.g. ``git archive <commit> src | tar -x -C /tmp/old``), so
a change is measured beside what it replaces in the same rounds.

The tenant apps of benchmarks/tenant_project (crm, billing, tickets: 13 migrations) on both
sides, Django's contrib apps shared. Each round, cases interleaved, every command a process
timed from outside (process start included), ``default`` / ``public`` already migrated:

- fresh: N empty tenant databases (ours, ``<prefix>*``; ``default`` a SQLite file) or N
  empty schemas with their tenant rows (django-tenants, one database ``<prefix>dt_main``), made
  before the timer; then ``migrate_all``, ``migrate_all --parallel 2`` (each on its own fresh
  databases) and ``migrate_schemas --executor=multiprocessing`` (its default 2 processes);
- one new migration: an AddField of crm.Company written into the app, then the same commands
  over the migrated tenants (ours: the ``--parallel 2`` databases get it from
  ``migrate_all --parallel 2``, the others from ``migrate_all``);
- the SQL floor: each migration's ``sqlmigrate`` output (rendered once before the rounds against
  a scratch tenant, ``<prefix>prep``, migrated by that SQL as it is rendered), the
  ``django_migrations`` row migrate records inserted before its COMMIT, concatenated in plan
  order (fresh: django_migrations' CREATE TABLE first, every migration migrate records in a
  tenant; one new migration: that one), run by ``psql -q -X -v ON_ERROR_STOP=1 -f`` once per
  tenant database (one connection each) on its own databases, serially and 2 at once. A
  RunPython operation has no SQL (crm 0004's runs on empty tables).

Each round starts with the next case (the order rotates), after a ``CHECKPOINT`` (the
databases just made would otherwise slow whichever case runs first). Each case is checked
afterwards (every tenant has ``crm_company``, and after the new migration its column; every
floor database has the columns of every table and the django_migrations rows of a database
``migrate_all`` migrated).
Every database is dropped at the end. Prints Markdown tables (the floor over ``migrate_all``:
serial / serial, 2 at once / ``--parallel 2``, per round and their median) and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tenant_create_vs_schemas import (
    DT_DB,
    PG,
    TENANT_APPS,
    admin,
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
# Writes the SQL of every unapplied migration of tenant "prep" to argv[1]: each migration's
# `sqlmigrate` output with the django_migrations row migrate records, applied to prep by psql
# before the next is rendered (so a rendering that reads the database sees the state the
# migration runs on). Fresh: django_migrations' CREATE TABLE first.
FLOOR_SQL = r"""
import io, subprocess, sys
import django
django.setup()
from django.core.management import call_command
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
connection = connections["tenant_prep"]
executor = MigrationExecutor(connection)
plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
chunks = []


def apply(chunk):
    psql = ["psql", "-q", "-X", "-v", "ON_ERROR_STOP=1", "-d", sys.argv[2]]
    subprocess.run(psql, input=chunk, text=True, check=True, stdout=subprocess.DEVNULL)
    chunks.append(chunk)


if not executor.recorder.has_table():
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        editor.create_model(MigrationRecorder.Migration)
    apply("\n".join(editor.collected_sql) + "\n")
for migration, _ in plan:
    out = io.StringIO()
    call_command("sqlmigrate", migration.app_label, migration.name, database="tenant_prep",
                 stdout=out, no_color=True)
    sql, row = out.getvalue(), (
        "INSERT INTO django_migrations (app, name, applied) VALUES ('%s', '%s', now());\n"
        % (migration.app_label, migration.name))
    head, commit, tail = sql.rpartition("COMMIT;")
    apply(head + row + commit + tail if commit else sql + row)
open(sys.argv[1], "w").write("\n".join(chunks))
"""
CASES = {
    "ours": "`migrate_all`",
    "ours_p2": "`migrate_all --parallel 2`",
    "before": "`migrate_all` before (`--before`)",
    "before_p2": "`migrate_all --parallel 2` before (`--before`)",
    "dt": "django-tenants `migrate_schemas --executor=multiprocessing` (2 processes)",
    "floor": "SQL floor: `psql -f` per database, serially",
    "floor_p2": "SQL floor: `psql -f` per database, 2 at once",
}
PREFIX = "dcfg_bench_m_"
"""Every database of the run starts with it (``--prefix``); all of them are dropped."""


def drop_prefixed() -> None:
    """Drops every database whose name starts with ``PREFIX``."""
    import psycopg

    pattern = PREFIX.replace("_", "\\_") + "%"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as connection:
        rows = connection.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", [pattern]
        ).fetchall()
        for (name,) in rows:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def floor(sql: Path, names: list[str], workers: int) -> float:
    """Runs ``sql`` by psql in each tenant database (one connection each), ``workers`` at once."""

    def run(name: str) -> None:
        psql = ["psql", "-q", "-X", "-v", "ON_ERROR_STOP=1", "-f", str(sql)]
        subprocess.run([*psql, "-d", f"{PG}/{PREFIX}{name}"], check=True, stdout=subprocess.DEVNULL)

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, names))
    return time.perf_counter() - started


def schema(database: str) -> tuple[set[tuple[str, str]], int]:
    """The (table, column) pairs of ``database``'s public schema and its django_migrations rows."""
    import psycopg

    with psycopg.connect(f"{PG}/{database}") as connection:
        columns = connection.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public'"
        ).fetchall()
        rows = connection.execute("SELECT count(*) FROM django_migrations").fetchone()
    return {(t, c) for t, c in columns}, rows[0] if rows else -1


def check_floor(names: list[str], like: str) -> None:
    """Every floor database ends with the tables, columns and migration rows of ``like``."""
    expected = schema(like)
    for name in names:
        got = schema(f"{PREFIX}{name}")
        assert got == expected, (name, got[0] ^ expected[0], got[1], expected[1])


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


def floor_sql(folder: Path, project: Path, new: Path) -> dict[str, Path]:
    """The floor's SQL files: every tenant migration (fresh), then ``new``'s migration alone."""
    sql = {step: folder / f"floor_{step}.sql" for step in ("fresh", "new")}
    prep = project_env(folder, f"{PG}/{PREFIX}{{tenant}}", ["prep"])
    admin(f'CREATE DATABASE "{PREFIX}prep"')
    for step in ("fresh", "new"):
        if step == "new":
            new.write_text(NEW)
        command = [sys.executable, "-c", FLOOR_SQL, str(sql[step]), f"{PG}/{PREFIX}prep"]
        subprocess.run(command, cwd=project, env=prep, check=True, stdout=subprocess.DEVNULL)
    new.unlink()
    return sql


def report(times: dict[str, list[float]], tenants: int, rounds: int, cases: list[str]) -> None:
    medians = {key: statistics.median(values) for key, values in times.items()}
    print(f"\n{tenants} PostgreSQL tenants, {rounds} rounds, medians (rounds):\n")
    print("| case | fresh s | x django-tenants | one new migration s | x django-tenants |")
    print("|---|---|---|---|---|")
    for case in cases:
        row = f"| {CASES[case]} |"
        for step in ("fresh", "new"):
            rounds_of = ", ".join(f"{t:.2f}" for t in times[f"{step} {case}"])
            dt = medians.get(f"{step} dt")
            versus = f"{medians[f'{step} {case}'] / dt:.2f}x" if dt else "-"
            row += f" {medians[f'{step} {case}']:.2f} ({rounds_of}) | {versus} |"
        print(row)
    print("\n| floor / ours, per round (median) | fresh | one new migration |\n|---|---|---|")
    pairs = [
        (floor_case, ours)
        for floor_case in ("floor", "floor_p2")
        for ours in (("ours", "before") if floor_case == "floor" else ("ours_p2", "before_p2"))
        if floor_case in cases and ours in cases
    ]
    for fl, ours in pairs:
        cells = []
        for step in ("fresh", "new"):
            pairs = zip(times[f"{step} {fl}"], times[f"{step} {ours}"], strict=True)
            ratios = [f / o for f, o in pairs]
            shown = ", ".join(f"{r:.2f}" for r in ratios)
            cells.append(f"{statistics.median(ratios):.2f} ({shown})")
        print(f"| {CASES[fl]} / {CASES[ours]} | {cells[0]} | {cells[1]} |")
    print(f"load average after: {os.getloadavg()}")
    print(json.dumps({"tenants": tenants, "rounds": rounds, **times}))


def main() -> None:  # noqa: PLR0915 (one run's steps, in order)
    global PREFIX  # noqa: PLW0603 (set once from --prefix, before anything uses it)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prefix", default=PREFIX, help="of every database the run makes")
    parser.add_argument(
        "--cases", default="ours,ours_p2,dt,floor,floor_p2", help=f"among {', '.join(CASES)}"
    )
    parser.add_argument(
        "--before",
        default="",
        help="a django_cfg source folder (its src/) run as the before/before_p2 cases",
    )
    args = parser.parse_args()
    PREFIX = args.prefix
    cases = [case for case in CASES if case in args.cases.split(",")]
    assert "ours" in cases or not {"floor", "floor_p2"} & set(cases), "floor checks against ours"
    assert args.before or not {"before", "before_p2"} & set(cases), "before cases need --before"
    folder, project = project_copy("bench-mig-dt-")
    (project / "wide").mkdir()  # settings_dt names it; empty here
    (project / "wide" / "__init__.py").write_text("")
    tenants = {case: [f"{case[0]}{case[-1]}{i:03d}" for i in range(args.tenants)] for case in CASES}
    envs = {
        case: project_env(folder, f"{PG}/{PREFIX}{{tenant}}", tenants[case])
        for case in ("ours", "ours_p2", "before", "before_p2")
    }
    for case in ("before", "before_p2"):  # django_cfg as it was, first on the path
        envs[case]["PYTHONPATH"] = args.before
    dt_db = f"{PREFIX}dt_main"
    dt_env = dt_project(project)
    (project / "settings_dt.py").write_text(
        (project / "settings_dt.py")
        .read_text()
        .replace(repr(TENANT_APPS), repr(TENANT_APPS[:3]))
        .replace(f'"NAME": "{DT_DB}"', f'"NAME": "{dt_db}"')
    )
    envs["dt"] = dt_env
    manage = [sys.executable, "manage.py"]
    commands = {
        "ours": [*manage, "migrate_all", "--noinput", "-v", "0"],
        "ours_p2": [*manage, "migrate_all", "--noinput", "-v", "0", "--parallel", "2"],
        "dt": [*manage, "migrate_schemas", "--executor=multiprocessing", "-v", "0"],
    }
    commands["before"], commands["before_p2"] = commands["ours"], commands["ours_p2"]
    quiet = {"cwd": project, "check": True, "stdout": subprocess.DEVNULL}
    new = project / "crm" / "migrations" / "0005_bench_new.py"
    times: dict[str, list[float]] = {f"{k} {c}": [] for k in ("fresh", "new") for c in cases}
    try:
        drop_prefixed()
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=envs["ours"], **quiet)
        if "dt" in cases:
            makemigrations = [*manage, "makemigrations", "dt_customers", "-v", "0"]
            subprocess.run(makemigrations, env=dt_env, **quiet)
        sql = floor_sql(folder, project, new)
        for r in range(args.rounds):
            new.unlink(missing_ok=True)
            drop_prefixed()  # the tenants, migrate_all's templates, django-tenants' database
            ours = [n for case in cases if case != "dt" for n in tenants[case]]
            admin(*(f'CREATE DATABASE "{PREFIX}{n}"' for n in ours))
            # The creations' WAL flushed now: else the round's first case pays the checkpoint
            # they start (seen: 28 s for a case that took 18.6 s later in the round).
            admin("CHECKPOINT")
            if "dt" in cases:
                admin(f'CREATE DATABASE "{dt_db}"')
                shared = [*manage, "migrate_schemas", "--shared", "-v", "0"]
                subprocess.run(shared, env=dt_env, **quiet)
                subprocess.run([sys.executable, "-c", DT_SEED, *tenants["dt"]], env=dt_env, **quiet)
            for step in ("fresh", "new"):
                if step == "new":
                    new.write_text(NEW)
                turn = r % len(cases)  # each round starts with another case (ordering bias)
                for case in cases[turn:] + cases[:turn]:
                    if case.startswith("floor"):
                        took = floor(sql[step], tenants[case], 2 if case.endswith("p2") else 1)
                    else:
                        took = timed(commands[case], envs[case], project)
                    times[f"{step} {case}"].append(took)
                    load = os.getloadavg()[0]
                    print(f"round {r} {step} {case}: {took:.2f}s, load {load:.1f}", file=sys.stderr)
                    databases = (
                        {dt_db: tenants["dt"]}
                        if case == "dt"
                        else {f"{PREFIX}{n}": ["public"] for n in tenants[case]}
                    )
                    check(databases, column=step == "new")
                for case in cases:
                    if case.startswith("floor"):  # once ours has migrated too
                        check_floor(tenants[case], f"{PREFIX}{tenants['ours'][0]}")
    finally:
        drop_prefixed()
        shutil.rmtree(folder)
    report(times, args.tenants, args.rounds, cases)


if __name__ == "__main__":
    main()
