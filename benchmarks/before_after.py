"""Instructions per case of RESULTS.md sections 1-3 and of the tenant router, for a past commit
("before") and this checkout ("after"), counted side by side in one run (issue 19).

    python benchmarks/before_after.py REVISION [OUT.json [SECTION[:CASE] ...]]

Each side runs its own benchmark scripts on its own ``src/`` (REVISION's from ``git archive``
into a temporary folder, with its ``benchmarks/``, ``tests/`` and ``examples/saas``), so each
imports the package internals by the paths of its own code. The tenant router's count mode
exists only in this checkout's ``tenant_router_cost.py``: the before side gets a copy whose
``ROUTER_PATH`` import is REVISION's (``django_cfg.routing.topology`` before the layering);
both sides run this checkout's ``router_cost.py`` (its ``save`` mode: ``db_for_write`` with the
``instance=`` hint that ``Model.save()`` passes). Counts are valgrind's
(``run.counted_instructions``): wall times on these shared machines are noise. Prints a
markdown table and writes every count as JSON to OUT.json if given (each count also to
OUT.json.partial as it finishes). BENCH_WORKERS: valgrind processes at once
(default: the number of cores). ``router_cost.py pinned`` reads depend on wall time under
valgrind (the pin lasts ``read_your_writes_seconds``, 5 s): compare them only with a longer
window (RESULTS.md, issue 19).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from run import BENCH, ORM_QUERIES, ROOT, compile_bytecode, counted_instructions

ROUTER_CALLS = 20_000
ROUTER_VARIANTS = ("rules", "replicas", "postgres", "pinned", "multidb")
"""``multidb``: django-multidb-router's PinningReplicaRouter, the anchor (no django_cfg code: the
same on both sides)."""
ORM_CASES = {"pk_lookup": ("none", "router")}  # the router's decision is the same per query
TENANT_CALLS = 50_000
TENANT_CASES = (  # "package router only" is section 1's "rules": the same router
    "tenant model, read",
    "tenant model, write",
    "shared model, read, tenant router in front",
    "shared model, write, tenant router in front",
)
"""Each counted at TENANT_CALLS calls in ``use_tenant``, less ``idle`` (one read call there):
the first call's one-off costs differ by case, at most a few per call at this N."""
STARTUP_CASES = {"hand-written settings": "handwritten_settings", "DjangoConfig": "api.settings"}
POSTGRES = {
    "DJANGO_CFG_BENCH_POSTGRES_URL": os.environ.get(
        "DJANGO_CFG_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/django_cfg_bench"
    ),
    "DJANGO_CFG_BENCH_REPLICA_URL": os.environ.get(
        "DJANGO_CFG_BENCH_REPLICA_URL", "postgresql://postgres@127.0.0.1:5433/django_cfg_bench"
    ),
}

Job = tuple[str, str, str, int]  # (side, section, case, calls); calls 0 for startup
Run = tuple[list[str], dict[str, str], Path]  # (arguments, environment, working folder)


def checkout_at(revision: str, into: Path) -> Path:
    """REVISION's src/, benchmarks/, tests/ and examples/saas in ``into``; its tenant benchmark
    is this checkout's with REVISION's import of the package router's dotted path."""
    archive = subprocess.run(
        [
            "git",
            "-C",
            str(ROOT),
            "archive",
            revision,
            "src",
            "benchmarks",
            "tests",
            "examples/saas",
        ],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    script = (BENCH / "tenant_router_cost.py").read_text()
    if not (into / "src" / "django_cfg" / "settings" / "routers.py").exists():
        script = script.replace("django_cfg.settings.routers", "django_cfg.routing.topology")
    (into / "benchmarks" / "tenant_router_cost.py").write_text(script)
    # This checkout's router benchmark on both sides (its save mode; before d95b2a6 the
    # warm-up save pinned the count mode's reads): it imports only DjangoConfig/DatabaseConfig.
    shutil.copy(BENCH / "router_cost.py", into / "benchmarks" / "router_cost.py")
    return into


MODES = ("idle", "read", "write", "save")
SECTIONS = ("startup", "routing", "orm", "tenant")
"""What ``before_after.py REVISION OUT.json [SECTION[:CASE] ...]`` counts, in this order (all of
it, or the sections named; with ``:CASE``, the cases whose name starts with CASE)."""


def jobs() -> list[Job]:
    listed: list[Job] = []
    for side in ("before", "after"):
        for variant in ROUTER_VARIANTS:
            listed += [(side, "routing", f"{variant} {mode}", ROUTER_CALLS) for mode in MODES]
        for engine in ("sqlite", "postgres"):
            for query, cases in ORM_CASES.items():
                calls = ORM_QUERIES[query][1]
                listed += [
                    (side, "orm", f"{engine} {query} {case}", calls * factor)
                    for case in cases
                    for factor in (1, 3)
                ]
        listed += [(side, "tenant", case, TENANT_CALLS) for case in TENANT_CASES]
        listed.append((side, "tenant", "idle", 0))
        listed += [(side, "startup", case, 0) for case in STARTUP_CASES]
    return listed


def command(job: Job, root: Path) -> Run:
    """How to run ``job`` on the code in ``root`` (its src/ first on the path)."""
    _, section, case, calls = job
    bench, source = root / "benchmarks", str(root / "src")
    if section == "routing":
        variant, mode = case.split()
        return (
            [str(bench / "router_cost.py"), variant, mode, str(calls)],
            {"PYTHONPATH": source},
            root,
        )
    if section == "orm":
        engine, query, name = case.split()
        args = [str(bench / "orm_overhead.py"), engine, "count", name, query, str(calls)]
        return args, {"PYTHONPATH": source, **POSTGRES}, root
    if section == "tenant":
        name = TENANT_CASES[0] if case == "idle" else case
        args = [str(bench / "tenant_router_cost.py"), "count", name, str(calls)]
        return args, {"PYTHONPATH": source}, root
    env = {
        "PYTHONPATH": f".:{bench / 'startup'}:{source}",
        "DJANGO_SETTINGS_MODULE": STARTUP_CASES[case],
    }
    return [str(bench / "startup" / "setup_once.py")], env, root / "examples" / "saas"


def per_call(counts: dict[Job, int]) -> dict[str, dict[str, float]]:
    """Instructions per call (startup: per process) of every case, for each side."""
    table: dict[str, dict[str, float]] = {}
    for (side, section, case, calls), counted in counts.items():
        if section == "routing":
            variant, mode = case.split()
            if mode != "idle":
                idle = counts[(side, section, f"{variant} idle", calls)]
                value = (counted - idle) / calls
                table.setdefault(f"1 router_cost {variant} {mode}", {})[side] = value
        elif section == "orm" and calls == ORM_QUERIES[case.split()[1]][1]:
            value = (counts[(side, section, case, 3 * calls)] - counted) / (2 * calls)
            table.setdefault(f"2 orm_overhead {case}", {})[side] = value
        elif section == "tenant" and case != "idle":
            value = (counted - counts[(side, section, "idle", 0)]) / calls
            table.setdefault(f"4 tenant_router_cost {case}", {})[side] = value
        elif section == "startup":
            table.setdefault(f"3 startup {case}", {})[side] = counted
    return dict(sorted(table.items()))


def main() -> None:
    revision, out = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
    chosen = [tuple(pick.partition(":")[::2]) for pick in sys.argv[3:]] or [
        (s, "") for s in SECTIONS
    ]
    with tempfile.TemporaryDirectory() as tmp:
        roots = {"before": checkout_at(revision, Path(tmp)), "after": ROOT}
        for root in roots.values():
            compile_bytecode(root / "src", root / "examples" / "saas", root / "benchmarks")
        listed = sorted(jobs(), key=lambda job: (SECTIONS.index(job[1]), *job[2:], job[0]))
        listed = [
            job for job in listed if any(job[1] == s and job[2].startswith(c) for s, c in chosen)
        ]

        def count(job: Job) -> int:
            args, env, cwd = command(job, roots[job[0]])
            counted = counted_instructions(args, env, cwd)
            if out:  # as they finish, so an interrupted run keeps what it counted
                with open(f"{out}.partial", "a") as partial:
                    print(json.dumps([*job, counted]), file=partial)
            return counted

        workers = int(os.environ.get("BENCH_WORKERS", os.cpu_count() or 2))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            counts = dict(zip(listed, pool.map(count, listed), strict=True))
    table = per_call(counts)
    if out:
        raw = {" | ".join(map(str, job)): value for job, value in counts.items()}
        Path(out).write_text(json.dumps({"per_call": table, "raw": raw}, indent=1))
    print("| case | before | after | after / before |\n|---|---|---|---|")
    for case, sides in table.items():
        before, after = sides["before"], sides["after"]
        print(f"| {case} | {before:,.0f} | {after:,.0f} | {after / before:.4f} |")


if __name__ == "__main__":
    if shutil.which("valgrind") is None:
        sys.exit(
            "before_after.py: valgrind counts the instructions; install it (apt install valgrind)"
        )
    main()
