"""10,000 SQLite tenants in hashed folders (issue 23, point 7): opening, querying, migrating.

    python benchmarks/tenant_scale.py [--tenants 10000] [--step 1000]

The project is benchmarks/tenant_project with ``TenantsConfig(names=...)`` and the template
``sqlite:///tenants/{tenant_hash2}/{tenant}.sqlite3`` (256 folders), ``max_open`` unbounded.
One tenant is migrated; the others are copies of its file. Then, each in its own process:

- open and query: for each tenant in turn, ``use_tenant(name)`` and
  ``Company.objects.count()``, then its connection closed (what the end of a request does);
  the time and the process's resident memory (``/proc/self/statm``) after every ``--step``
  tenants: the cost per tenant of each step (does it grow with the tenants open?) and the
  memory per open tenant;
- ``migrate_all`` with nothing to apply (3 rounds, medians), against the floor (``sqlite3``
  reads each file's ``django_migrations``), as in benchmarks/noop_migrate_all.py;
- ``create_tenant()`` of 20 new tenants from the template (the per-tenant cost of making them).

Prints Markdown tables and one JSON line.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import noop_migrate_all as noop

OPEN = r"""
import json, os, sys, time
import django
django.setup()
from django.db import connections
from crm.models import Company
from django_cfg.tenants.context import use_tenant
from django_cfg.tenants.registry import current_registry

step = int(sys.argv[1])
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * page
names = current_registry().names()
points = [(0, 0.0, rss())]
started = time.perf_counter()
for number, name in enumerate(names, start=1):
    with use_tenant(name):
        Company.objects.count()
    connections[f"tenant_{name}"].close()
    if number % step == 0 or number == len(names):
        points.append((number, time.perf_counter() - started, rss()))
print(json.dumps(points))
"""
CREATE = r"""
import json, sys, time
import django
django.setup()
from django_cfg.tenants import create_tenant
create_tenant("new000")  # the template
times = []
for i in range(1, 21):
    started = time.perf_counter()
    assert create_tenant(f"new{i:03d}").cloned
    times.append(time.perf_counter() - started)
print(json.dumps(times))
"""


def run_json(command: list[str], env: dict[str, str]) -> Any:
    run = subprocess.run(command, cwd=noop.PROJECT, env=env, capture_output=True, text=True)
    if run.returncode:
        raise SystemExit(run.stdout + run.stderr)
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10000)
    parser.add_argument("--step", type=int, default=1000)
    args = parser.parse_args()
    folder, env = noop.prepare(args.tenants, noop.HASHED)
    env = {**env, "BENCH_MAX_OPEN": ""}
    python = sys.executable
    try:
        points = run_json([python, "-c", OPEN, str(args.step)], env)
        cases = {
            "process start": [python, "-c", noop.SETUP],
            "floor": [python, "-c", noop.FLOOR],
            "migrate_all (no-op)": [python, "manage.py", "migrate_all", "--noinput", "-v", "0"],
        }
        rounds: dict[str, list[float]] = {case: [] for case in cases}
        for _ in range(3):  # interleaved; the medians
            for case, command in cases.items():
                rounds[case].append(noop.run(command, env))
        migrate = {case: sorted(times)[1] for case, times in rounds.items()}
        created_env = {
            **env,
            "BENCH_TENANTS": env["BENCH_TENANTS"]
            + ","
            + ",".join(f"new{i:03d}" for i in range(21)),
        }
        created = run_json([python, "-c", CREATE], created_env)
    finally:
        shutil.rmtree(folder)
    print(f"\n{args.tenants} SQLite tenants in 256 hashed folders, max_open unbounded:\n")
    print("| tenants open | ms per tenant (this step: open + 1 query) | RSS MiB | KiB per tenant |")
    print("|---|---|---|---|")
    for (n0, t0, _), (n1, t1, r1) in itertools.pairwise(points):
        per = (t1 - t0) / (n1 - n0) * 1000
        kib = (r1 - points[0][2]) / n1 / 1024
        print(f"| {n1} | {per:.2f} | {r1 / 2**20:.1f} | {kib:.1f} |")
    start = migrate["process start"]
    print("\n| no-op migration | seconds | minus process start | per tenant |")
    print("|---|---|---|---|")
    for case, took in migrate.items():
        own = took - start
        print(f"| {case} | {took:.2f} | {own:.2f} | {own / args.tenants * 1000:.2f} ms |")
    median = sorted(created)[len(created) // 2]
    print(f"\ncreate_tenant() from the template, median of 20: {median:.3f} s per tenant")
    print(json.dumps({"points": points, "migrate": migrate, "create": created}))


if __name__ == "__main__":
    main()
