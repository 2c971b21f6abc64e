"""Creating a tenant (issue 23, point 3): a copy of the migrated template against migrating.

    python benchmarks/tenant_create.py [--tenants 10] [--postgres]

The project is a copy of benchmarks/tenant_project plus an app ``wide`` of 30 migrations
(a CreateModel, then 29 AddField / AddIndex), so a tenant database takes 42 migrations (55
django_migrations rows with the shared apps'). In one process after ``django.setup()``, each
case timed per tenant (``time.perf_counter()`` around the call), the cases interleaved tenant
by tenant:

- Django's ``migrate --database tenant_N`` into an empty database (the anchor; ``call_command``);
- ``create_tenant(name)`` with the template current: a copy (SQLite file; PostgreSQL
  ``CREATE DATABASE ... TEMPLATE``);
- ``create_tenant(name)`` with no template (it is removed before each): migrating, then the
  template made from the new database (what the first creation and the first after a new
  migration cost).

SQLite files in a new folder; ``--postgres``: tenant databases ``bench_create_*`` on
127.0.0.1:5432, dropped at the end. Prints a Markdown table of medians and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tenant_project_env import PROJECT, project_env

PG = "postgresql://postgres@127.0.0.1:5432"
MIGRATIONS = 30
RUN = r"""
import json, statistics, sys, time
import django
django.setup()
from pathlib import Path
from django.core.management import call_command
from django.db import connections
from django_cfg.tenants import create_tenant
from django_cfg.tenants.registry import current_registry
from django_cfg.tenants.provisioning import create_database, drop_database

count = int(sys.argv[1])
registry = current_registry()
def drop_template():
    from django_cfg.tenants.clone import template_database
    from django.conf import settings
    db = template_database(registry.template)
    if db.family == "sqlite":
        Path(db.to_django(settings.BASE_DIR)["NAME"]).unlink(missing_ok=True)
    else:
        with connections[registry.alias_for("warm")]._nodb_cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{db.name}"')

times = {"django": [], "clone": [], "migrate": []}
create_tenant("warm")  # makes the template
for i in range(count):
    alias = registry.alias_for(f"dj{i}")
    create_database(alias)
    started = time.perf_counter()
    call_command("migrate", database=alias, verbosity=0, interactive=False, skip_checks=True)
    times["django"].append(time.perf_counter() - started)
    connections[alias].close()
    started = time.perf_counter()
    tenant = create_tenant(f"cl{i}")
    times["clone"].append(time.perf_counter() - started)
    assert tenant.cloned, tenant
    drop_template()
    started = time.perf_counter()
    tenant = create_tenant(f"mg{i}")
    times["migrate"].append(time.perf_counter() - started)
    assert not tenant.cloned, tenant
print(json.dumps(times))
"""


def wide_app(root: Path) -> None:
    migrations = root / "wide" / "migrations"
    migrations.mkdir(parents=True)
    (root / "wide" / "__init__.py").write_text("")
    (migrations / "__init__.py").write_text("")
    added = [n - 1 for n in range(2, MIGRATIONS + 1) if n % 5]
    fields = "".join(f"    f{n} = models.IntegerField(default=0)\n" for n in added)
    (root / "wide" / "models.py").write_text(
        "from django.db import models\n\n\nclass Wide(models.Model):\n"
        "    name = models.CharField(max_length=50)\n" + fields
    )
    head = "from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n"
    (migrations / "0001_initial.py").write_text(
        head + "    initial = True\n    dependencies = []\n    operations = [\n"
        "        migrations.CreateModel('Wide', [('id', models.BigAutoField(primary_key=True)),"
        " ('name', models.CharField(max_length=50))]),\n    ]\n"
    )
    for n in range(2, MIGRATIONS + 1):
        previous = sorted(p.stem for p in migrations.glob("0*.py"))[-1]
        operation = (
            f"migrations.AddField('wide', 'f{n - 1}', models.IntegerField(default=0))"
            if n % 5
            else f"migrations.AddIndex('wide', models.Index(fields=['f{n - 2}'], name='w_i{n}'))"
        )
        (migrations / f"{n:04d}_step.py").write_text(
            head + f"    dependencies = [('wide', '{previous}')]\n    operations = [{operation}]\n"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-create-"))
    project = folder / "project"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("__pycache__"))
    wide_app(project)
    names = ["warm"] + [f"{p}{i}" for i in range(args.tenants) for p in ("dj", "cl", "mg")]
    template = f"{PG}/bench_create_{{tenant}}" if args.postgres else "sqlite:///t/{tenant}.sqlite3"
    env = project_env(folder, template, names, BENCH_EXTRA_APPS="wide")
    run = [sys.executable, "manage.py"]
    try:
        subprocess.run([*run, "migrate", "--noinput", "-v", "0"], cwd=project, env=env, check=True)
        out = subprocess.run(
            [sys.executable, "-c", RUN, str(args.tenants)],
            cwd=project,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        if args.postgres:
            import psycopg

            with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
                for row in admin.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE 'bench_create_%'"
                ).fetchall():
                    admin.execute(f'DROP DATABASE "{row[0]}" WITH (FORCE)')  # type: ignore[arg-type]
        shutil.rmtree(folder)
    times = json.loads(out.stdout.strip().splitlines()[-1])
    import statistics

    medians = {case: statistics.median(values) for case, values in times.items()}
    engine = "PostgreSQL" if args.postgres else "SQLite"
    print(f"\n{engine}, {args.tenants} tenants per case, 42 tenant migrations, medians:\n")
    print("| case | seconds per tenant | vs Django's migrate |")
    print("|---|---|---|")
    labels = {
        "django": "Django's `migrate --database` into an empty database",
        "clone": "`create_tenant()`, template current (copy)",
        "migrate": "`create_tenant()`, no template (migrate, then make it)",
    }
    for case, median in medians.items():
        print(f"| {labels[case]} | {median:.3f} | {median / medians['django']:.2f}x |")
    print(json.dumps({"engine": engine, "tenants": args.tenants, **medians}))


if __name__ == "__main__":
    main()
