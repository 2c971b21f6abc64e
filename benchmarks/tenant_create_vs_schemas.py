"""Creating a PostgreSQL tenant (issue 23, point 3) beside django-tenants' schema per tenant.

    python benchmarks/tenant_create_vs_schemas.py [--rounds 3] [--per-round 3]

The same tenant apps on both sides: benchmarks/tenant_project's crm, billing and tickets plus
tenant_create.py's app ``wide`` of 30 migrations (42 tenant migrations), Django's contrib apps
shared. Four cases, each a process per round (the rounds interleave the cases); within it,
after ``django.setup()`` and one warm-up tenant, each tenant timed by ``time.perf_counter()``
around the call:

- ``create_tenant(name)`` (django_cfg's Python API), the template current: ``CREATE DATABASE
  ... TEMPLATE`` of the migrated template (databases ``dcfg_bench_*``, ``default`` a SQLite file);
- django-tenants 4.0.1 ``Client(schema_name=...).save()`` with ``auto_create_schema``: ``CREATE
  SCHEMA`` and ``migrate_schemas`` of the schema (one database ``bench_dt_main``);
- django-tenants' clone: the same ``save()`` with ``TENANT_CREATION_FAKES_MIGRATIONS = True``
  and ``TENANT_BASE_SCHEMA`` a migrated schema: its ``clone_schema()`` SQL function (clone.py)
  copies the base schema, then ``migrate_schemas --fake`` records the migrations.
- django-tenants' ``clone_tenant`` command's work (its ``store_tenant()``): the tenant row saved
  without a schema, then ``clone_schema()`` of the base schema, no migrate.

Every database made is dropped at the end. Prints a Markdown table of medians and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from tenant_create import wide_app
from tenant_project_env import PROJECT, project_env

PG = "postgresql://postgres@127.0.0.1:5432"
DT_DB = "bench_dt_main"
TENANT_APPS = ["crm", "billing", "tickets", "wide"]
DT_SETTINGS = f"""
import os
SECRET_KEY = "benchmark-only-" + "x" * 50
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASES = {{"default": {{"ENGINE": "django_tenants.postgresql_backend", "NAME": "{DT_DB}",
    "USER": "postgres", "HOST": "127.0.0.1", "PORT": "5432"}}}}
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
SHARED_APPS = ["django_tenants", "dt_customers", "django.contrib.contenttypes",
    "django.contrib.auth", "django.contrib.sessions", "django.contrib.admin",
    "django.contrib.messages", "django.contrib.staticfiles"]
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware"]
TEMPLATES = [{{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
    "OPTIONS": {{"context_processors": ["django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
        "django.template.context_processors.request"]}}}}]
STATIC_URL = "static/"
TENANT_APPS = {TENANT_APPS!r}
INSTALLED_APPS = [*SHARED_APPS, *TENANT_APPS]
TENANT_MODEL = "dt_customers.Client"
TENANT_DOMAIN_MODEL = "dt_customers.Domain"
if os.environ.get("BENCH_DT_CLONE"):
    TENANT_CREATION_FAKES_MIGRATIONS = True
    TENANT_BASE_SCHEMA = "base_tpl"
"""
DT_MODELS = """
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class Client(TenantMixin):
    name = models.CharField(max_length=100)
    auto_create_schema = True


class Domain(DomainMixin):
    pass
"""
# One process of a case: argv = case, warm-up name, names to time.
RUN = r"""
import json, sys, time
import django
django.setup()
case, warm, names = sys.argv[1], sys.argv[2], sys.argv[3:]
if case == "ours":
    from django_cfg.tenants import create_tenant
    def create(name):
        assert create_tenant(name).cloned or name == "warm", name
else:
    from django.db import connection
    from dt_customers.models import Client
    from django_tenants.clone import CloneSchema
    def create(name):
        if case == "dt_clone_tenant":  # what the clone_tenant command's store_tenant() does
            tenant = Client(schema_name=name, name=name)
            tenant.auto_create_schema = False
            tenant.save()
            CloneSchema().clone_schema("base_tpl", name, set_connection=False)
        else:
            Client(schema_name=name, name=name).save(verbosity=0)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM %s.django_migrations" % name)
            assert cursor.fetchone()[0] > 40, name
            cursor.execute("SELECT to_regclass('%s.wide_wide')" % name)
            assert cursor.fetchone()[0], name
create(warm)
times = []
for name in names:
    started = time.perf_counter()
    create(name)
    times.append(time.perf_counter() - started)
print(json.dumps(times))
"""
PREFIX = {"ours": "o", "dt_migrate": "m", "dt_clone": "c", "dt_clone_tenant": "k"}
CASES = {
    "ours": "`create_tenant(name)` (PostgreSQL `CREATE DATABASE ... TEMPLATE`)",
    "dt_migrate": "django-tenants `Client(...).save()` (`CREATE SCHEMA` + `migrate_schemas`)",
    "dt_clone": "django-tenants clone (`TENANT_BASE_SCHEMA`: `clone_schema()` + fake migrate)",
    "dt_clone_tenant": "django-tenants `clone_tenant`'s work (`save()`, `clone_schema()` only)",
}


def admin(*statements: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as connection:
        for sql in statements:
            connection.execute(sql)  # type: ignore[arg-type]


def drop_all() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as connection:
        rows = connection.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'dcfg\\_bench\\_%'"
            " OR datname LIKE 'bench\\_dt\\_%'"
        ).fetchall()
        for (name,) in rows:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def dt_project(project: Path) -> dict[str, str]:
    (project / "settings_dt.py").write_text(DT_SETTINGS)
    (project / "dt_customers").mkdir()
    (project / "dt_customers" / "__init__.py").write_text("")
    (project / "dt_customers" / "models.py").write_text(DT_MODELS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "BENCH_"))}
    return {**env, "DJANGO_SETTINGS_MODULE": "settings_dt"}


def project_copy(prefix: str) -> tuple[Path, Path]:
    """A new folder holding a copy of benchmarks/tenant_project: (the folder, the copy)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    shutil.copytree(PROJECT, folder / "project", ignore=shutil.ignore_patterns("__pycache__"))
    return folder, folder / "project"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-round", type=int, default=3)
    args = parser.parse_args()
    folder, project = project_copy("bench-create-dt-")
    wide_app(project)
    names = {
        (case, r): [f"{PREFIX[case]}{r}_{k}" for k in range(args.per_round + 1)]
        for case in CASES
        for r in range(args.rounds)
    }
    ours = [name for (case, _), group in names.items() if case == "ours" for name in group]
    ours_env = project_env(
        folder, f"{PG}/dcfg_bench_{{tenant}}", ["warm", *ours], BENCH_EXTRA_APPS="wide"
    )
    dt_env = dt_project(project)
    manage = [sys.executable, "manage.py"]
    quiet = {"cwd": project, "check": True, "stdout": subprocess.PIPE, "text": True}
    times: dict[str, list[float]] = {case: [] for case in CASES}
    try:
        drop_all()
        admin(f'CREATE DATABASE "{DT_DB}"')
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=ours_env, **quiet)
        subprocess.run([sys.executable, "-c", RUN, "ours", "warm"], env=ours_env, **quiet)
        subprocess.run([*manage, "makemigrations", "dt_customers", "-v", "0"], env=dt_env, **quiet)
        subprocess.run([*manage, "migrate_schemas", "--shared", "-v", "0"], env=dt_env, **quiet)
        subprocess.run([sys.executable, "-c", RUN, "dt_migrate", "base_tpl"], env=dt_env, **quiet)
        envs = {
            "ours": ours_env,
            "dt_migrate": dt_env,
            "dt_clone": {**dt_env, "BENCH_DT_CLONE": "1"},
            "dt_clone_tenant": dt_env,
        }
        for r in range(args.rounds):
            for case in CASES:
                out = subprocess.run(
                    [sys.executable, "-c", RUN, case, *names[case, r]], env=envs[case], **quiet
                )
                times[case].extend(json.loads(out.stdout.strip().splitlines()[-1]))
                print(f"round {r} {case}: {times[case][-args.per_round :]}", file=sys.stderr)
    finally:
        drop_all()
        shutil.rmtree(folder)
    medians = {case: statistics.median(values) for case, values in times.items()}
    count = args.rounds * args.per_round
    print(f"\nPostgreSQL, {count} tenants per case ({args.rounds} rounds), 42 tenant migrations:\n")
    print("| case | median s per tenant | min-max s | x ours |")
    print("|---|---|---|---|")
    for case, median in medians.items():
        spread = f"{min(times[case]):.3f}-{max(times[case]):.3f}"
        print(f"| {CASES[case]} | {median:.3f} | {spread} | {median / medians['ours']:.2f}x |")
    print(json.dumps({"rounds": args.rounds, "per_round": args.per_round, **medians}))


if __name__ == "__main__":
    main()
