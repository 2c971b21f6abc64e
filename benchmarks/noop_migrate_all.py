"""A no-op ``migrate_all`` over many SQLite tenants (issue 23, point 4): the floor is opening each
file and reading its ``django_migrations``.

    python benchmarks/noop_migrate_all.py [--tenants 1000] [--rounds 3] [--hashed]

The project is benchmarks/tenant_project (three tenant apps, 12 migrations, 13 rows per tenant
in django_migrations) with ``TenantsConfig(names=...)``. One tenant is migrated by
``migrate_all --tenant``; the other files are copies of it (a fresh ``migrate_all`` of 1,000
tenants is not what is measured). Cases, interleaved over the rounds, each a new process:

- ``python -c "import django; django.setup()"`` with the same settings: process start;
- ``manage.py migrate_all --noinput -v 0`` with nothing to apply;
- the same with every tenant opened and planned as before this change (the one-query path
  ``Command._recorded_in_file`` replaced by ``False``: what it cost before, in the same run);
- the floor: one process that opens each tenant file with ``sqlite3`` and reads its
  ``django_migrations`` (``SELECT app, name``), after the same ``django.setup()``;
- once per round, ``call_command("migrate_all")`` timed inside its process (after
  ``django.setup()``): the command without interpreter start.

``--hashed``: the files spread over 256 folders (``{tenant_hash2}``, docs/tenants.md). Prints a
Markdown table of medians and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tenant_project_env import PROJECT, project_env

FLAT = "sqlite:///tenants/{tenant}.sqlite3"
HASHED = "sqlite:///tenants/{tenant_hash2}/{tenant}.sqlite3"
SETUP = "import django; django.setup()"
FLOOR = """
import django, sqlite3, sys
django.setup()
from django.conf import settings
from django_cfg.tenants.registry import current_registry
registry = current_registry()
for name in registry.names():
    path = registry.database(name).to_django(settings.BASE_DIR)["NAME"]
    db = sqlite3.connect(path)
    db.execute("SELECT app, name FROM django_migrations").fetchall()
    db.close()
"""


WITHOUT_FAST_PATH = """
import sys
import django
django.setup()
from django.core.management import call_command
from django_cfg.management.commands import migrate_all
migrate_all.Command._recorded_in_file = lambda self, alias: False  # every tenant opened
call_command("migrate_all", interactive=False, verbosity=0)
"""


IN_PROCESS = """
import time
import django
django.setup()
from django.core.management import call_command
started = time.perf_counter()
call_command("migrate_all", interactive=False, verbosity=0)
print(time.perf_counter() - started)
"""
"""``call_command("migrate_all")`` alone, after ``django.setup()``: the command's own time."""


def in_process(env: dict[str, str]) -> float:
    done = subprocess.run(
        [sys.executable, "-c", IN_PROCESS],
        cwd=PROJECT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(done.stdout.split()[-1])


def run(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, cwd=PROJECT, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def prepare(count: int, template: str) -> tuple[Path, dict[str, str]]:
    folder = Path(tempfile.mkdtemp(prefix="bench-noop-"))
    names = [f"t{i:05d}" for i in range(count)]
    env = project_env(folder, template, names, BENCH_MAX_OPEN="8")
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=PROJECT,
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [python, "manage.py", "migrate_all", "--noinput", "-v", "0", "--tenant", names[0]],
        cwd=PROJECT,
        env=env,
        check=True,
        capture_output=True,
    )
    paths = subprocess.run(
        [
            python,
            "-c",
            SETUP + "\nfrom django_cfg.tenants.registry import current_registry\n"
            "from django.conf import settings\nr = current_registry()\n"
            "print('\\n'.join(str(r.database(n).to_django(settings.BASE_DIR)['NAME']) "
            "for n in r.names()))",
        ],
        cwd=PROJECT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    first = Path(paths[0])
    for path in paths[1:]:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(first, path)
    return folder, env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hashed", action="store_true")
    args = parser.parse_args()
    folder, env = prepare(args.tenants, HASHED if args.hashed else FLAT)
    python = sys.executable
    cases = {
        "process start (`django.setup()`)": [python, "-c", SETUP],
        "floor: sqlite3 reads each django_migrations": [python, "-c", FLOOR],
        "`migrate_all` (no-op)": [python, "manage.py", "migrate_all", "--noinput", "-v", "0"],
        "`migrate_all` (no-op) without the one-query path (before)": [
            python,
            "-c",
            WITHOUT_FAST_PATH,
        ],
    }
    times: dict[str, list[float]] = {case: [] for case in cases}
    in_process_times: list[float] = []
    try:
        for _ in range(args.rounds):
            for case, command in cases.items():
                times[case].append(run(command, env))
                print(f"{case}: {times[case][-1]:.2f}s", file=sys.stderr)
            in_process_times.append(in_process(env))
    finally:
        shutil.rmtree(folder)
    medians = {case: statistics.median(values) for case, values in times.items()}
    start = medians["process start (`django.setup()`)"]
    print(
        f"\n{args.tenants} SQLite tenants{' (hashed folders)' if args.hashed else ''}, "
        f"median of {args.rounds} rounds:\n"
    )
    print("| case | seconds | minus process start | per tenant |")
    print("|---|---|---|---|")
    for case, median in medians.items():
        own = median - start
        print(f"| {case} | {median:.2f} | {own:.2f} | {own / args.tenants * 1000:.2f} ms |")
    in_process_median = statistics.median(in_process_times)
    print(
        f"\n`call_command('migrate_all')` in-process (after `django.setup()`): "
        f"{in_process_median:.2f} s, {in_process_median / args.tenants * 1000:.2f} ms per tenant"
    )
    print(
        json.dumps(
            {
                "tenants": args.tenants,
                "hashed": args.hashed,
                **medians,
                "in-process": in_process_median,
            }
        )
    )


if __name__ == "__main__":
    main()
