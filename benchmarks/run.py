"""Runs the benchmarks side by side and writes benchmarks/RESULTS.md (scripts/bench.sh).

Every measurement runs its cases interleaved, each in a fresh process, several rounds, and
reports medians and ratios from the same run: these machines are shared and noisy.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import django

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
EXAMPLE = ROOT / "examples" / "saas"
PYTHON = sys.executable


BEFORE = "109d1c8"
"""The last commit before the benchmark-driven optimisations; its code is measured beside ours."""


def run_json(
    args: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None, prefix: list[str] = ()
) -> dict:
    done = subprocess.run(
        [*prefix, PYTHON, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {"stderr": done.stderr}


def source_at(revision: str, into: Path) -> Path | None:
    """``src/`` as it was at ``revision`` (None if this checkout does not have it)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "src"], capture_output=True
    )
    if archive.returncode:
        return None
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "src"


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "low": min(values), "high": max(values)}


ROUTER_VARIANTS = {
    "django": "Django, no routers",
    "rules": "django_cfg, app rules",
    "replicas": "django_cfg, app rules + a replica (read -> replica)",
    "pinned": "django_cfg, replica + read-your-writes pin (read -> primary)",
    "loop": "django_cfg, replica, through Django's router loop",
    "multidb": "django-multidb-router PinningReplicaRouter",
}


def router_cost(rounds: int = 5) -> dict[str, dict[str, dict[str, float]]]:
    samples: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for _ in range(rounds):
        for variant in ROUTER_VARIANTS:
            result = run_json([str(BENCH / "router_cost.py"), variant])
            for key in ("read_ns", "write_ns"):
                samples[variant][key].append(result[key])
    return {v: {k: spread(xs) for k, xs in d.items()} for v, d in samples.items()}


VALGRIND = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]


def instructions(variant: str, source: Path | None = None, calls: int = 20_000) -> dict[str, int]:
    """Instructions per read and per write call, counted by valgrind (repeatable, unlike time)."""
    env = {"PYTHONHASHSEED": "0", **({"PYTHONPATH": str(source)} if source else {})}
    counts = {}
    for mode in ("idle", "read", "write"):
        done = subprocess.run(
            [*VALGRIND, PYTHON, str(BENCH / "router_cost.py"), variant, mode, str(calls)],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
            timeout=900,
        )
        counts[mode] = int(done.stderr.split("Collected :")[1].split()[0])
    return {m: round((counts[m] - counts["idle"]) / calls) for m in ("read", "write")}


def router_instructions(before: Path | None) -> dict[str, dict[str, int]]:
    if shutil.which("valgrind") is None:
        return {}
    jobs = [(v, None) for v in ROUTER_VARIANTS]
    if before is not None:
        jobs += [(v, before) for v in ("rules", "replicas", "pinned")]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        counted = pool.map(lambda job: instructions(*job), jobs)
        return {
            (variant if source is None else f"{variant}@before"): result
            for (variant, source), result in zip(jobs, counted, strict=True)
        }


def orm_overhead(rounds: int = 5) -> dict[str, dict[str, dict[str, list[float]]]]:
    samples: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for _ in range(rounds):
        for engine in ("sqlite", "postgres"):
            for router in ("none", "router"):
                result = run_json([str(BENCH / "orm_overhead.py"), engine, router])
                for key in ("pk_lookup_us", "list_100_us"):
                    samples[engine][router][key].append(result[key])
    return samples


STARTUP = {
    "hand-written settings": ("handwritten_settings", False),
    "hand-written + project env loader": ("handwritten_env_settings", False),
    "DjangoConfig (api.settings)": ("api.settings", False),
    f"DjangoConfig, django_cfg as of {BEFORE}": ("api.settings", True),
}


def startup(before: Path | None, rounds: int = 15) -> dict[str, dict[str, dict[str, float]]]:
    samples: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for _ in range(rounds):
        for name, (module, old) in STARTUP.items():
            if old and before is None:
                continue
            path = f".:{BENCH / 'startup'}" + (f":{before}" if old else "")
            started = time.perf_counter()
            result = run_json(
                [str(BENCH / "startup" / "setup_once.py")],
                cwd=EXAMPLE,
                env={"PYTHONPATH": path, "DJANGO_SETTINGS_MODULE": module},
            )
            samples[name]["seconds"].append(time.perf_counter() - started)
            samples[name]["max_rss_mib"].append(result["max_rss_kib"] / 1024)
    return {n: {k: spread(xs) for k, xs in d.items()} for n, d in samples.items()}


def migrate_all() -> dict[str, float]:
    return run_json([str(BENCH / "migrate_all_vs_loop.py"), "3"])


def replica_behaviour() -> dict[str, dict[str, dict[str, Any]]]:
    results: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for mode in ("stale", "outage"):
        for router in ("ours", "seed"):
            results[mode][router] = run_json([str(BENCH / "replica_behaviour.py"), mode, router])
    return results


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    postgres = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "SHOW server_version"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return (
        f"{cpu}, {os.cpu_count()} cores; {platform.platform()}; "
        f"Python {platform.python_version()}; Django {django.get_version()}; "
        f"PostgreSQL {postgres or '?'}"
    )


def verdict(ok: bool) -> str:
    return "meets target" if ok else "**misses target**"


def ns(value: dict[str, float]) -> str:
    return f"{value['median']:.0f} ({value['low']:.0f}-{value['high']:.0f})"


def routing_section(routing: dict, counted: dict[str, dict[str, int]]) -> list[str]:
    base = routing["django"]
    budget = {k: 1.5 * base[k]["median"] + 300 for k in ("read_ns", "write_ns")}
    lines = [
        "## 1. Routing decision cost (ns per call through `django.db.router`)",
        "",
        "Median over rounds of each process's best of 7 x 200,000 calls (range over rounds).",
        "Instructions per call are counted by valgrind (callgrind): they do not move with the",
        "machine's load, so they are the steadier comparison.",
        "",
        "| router | db_for_read ns | db_for_write ns | read instr. | write instr. |",
        "|---|---|---|---|---|",
    ]
    for variant, label in ROUTER_VARIANTS.items():
        r, c = routing[variant], counted.get(variant, {})
        lines.append(
            f"| {label} | {ns(r['read_ns'])} | {ns(r['write_ns'])} "
            f"| {c.get('read', '-')} | {c.get('write', '-')} |"
        )
    lines.append("")
    for variant, label in (("replicas", "replica (read -> replica)"), ("pinned", "pinned")):
        r = routing[variant]
        read, write = r["read_ns"]["median"], r["write_ns"]["median"]
        lines.append(
            f"- Target, {label}: <= 1.5 x no-router + 300 ns = {budget['read_ns']:.0f} ns read, "
            f"{budget['write_ns']:.0f} ns write: read {read:.0f} ns "
            f"({verdict(read <= budget['read_ns'])}), write {write:.0f} ns "
            f"({verdict(write <= budget['write_ns'])})."
        )
    full, multidb = routing["replicas"], routing["multidb"]
    by_time = {k: full[k]["median"] / multidb[k]["median"] for k in ("read_ns", "write_ns")}
    lines.append(
        f"- Against django-multidb-router (median ns): read {by_time['read_ns']:.2f}x, "
        f"write {by_time['write_ns']:.2f}x of its cost."
    )
    if "multidb" in counted:
        ours, theirs = counted["replicas"], counted["multidb"]
        lines.append(
            f"- Against django-multidb-router (instructions): read "
            f"{ours['read'] / theirs['read']:.2f}x, write {ours['write'] / theirs['write']:.2f}x."
        )
    if "replicas@before" in counted:
        lines += [
            "",
            f"Before / after the optimisations (django_cfg as of `{BEFORE}` vs now, same run,",
            "instructions per call):",
            "",
            "| variant | read before | read now | write before | write now |",
            "|---|---|---|---|---|",
        ]
        for variant in ("rules", "replicas", "pinned"):
            old, new = counted[f"{variant}@before"], counted[variant]
            lines.append(
                f"| {variant} | {old['read']} | {new['read']} ({new['read'] / old['read']:.2f}x) "
                f"| {old['write']} | {new['write']} ({new['write'] / old['write']:.2f}x) |"
            )
    return lines


def orm_section(orm: dict) -> list[str]:
    lines = [
        "## 2. ORM overhead (us per query, django_cfg's router vs no router)",
        "",
        "Median per process of 7 repeats; ratio: median of the per-round ratios (range).",
        "",
        "| engine | query | no router | django_cfg router | ratio |",
        "|---|---|---|---|---|",
    ]
    worst = 0.0
    for engine, cases in orm.items():
        for key, label in (("pk_lookup_us", "pk lookup"), ("list_100_us", "100-row list")):
            none, ours = cases["none"][key], cases["router"][key]
            ratios = [o / n for o, n in zip(ours, none, strict=True)]
            worst = max(worst, statistics.median(ratios))
            lines.append(
                f"| {engine} | {label} | {statistics.median(none):.1f} "
                f"| {statistics.median(ours):.1f} | {statistics.median(ratios):.3f} "
                f"({min(ratios):.3f}-{max(ratios):.3f}) |"
            )
    lines += [
        "",
        f"Target: <= 1.02: worst median ratio {worst:.3f} ({verdict(worst <= 1.02)}). The router",
        "itself costs less than Django's own router loop (section 1); what is left here is the",
        "noise between processes on this machine.",
    ]
    return lines


def startup_section(boot: dict) -> list[str]:
    lines = [
        "## 3. Startup: `django.setup()` of the example project, whole process",
        "",
        "Median wall time and peak RSS over 15 interleaved rounds (range).",
        "",
        "| settings | wall time (s) | peak RSS (MiB) |",
        "|---|---|---|",
    ]
    for name, values in boot.items():
        seconds, rss = values["seconds"], values["max_rss_mib"]
        lines.append(
            f"| {name} | {seconds['median']:.3f} ({seconds['low']:.3f}-{seconds['high']:.3f}) "
            f"| {rss['median']:.1f} |"
        )
    env_base = boot["hand-written + project env loader"]
    ours = boot["DjangoConfig (api.settings)"]
    ratio = ours["seconds"]["median"] / env_base["seconds"]["median"]
    extra = ours["max_rss_mib"]["median"] - env_base["max_rss_mib"]["median"]
    return [
        *lines,
        "",
        f"Against the hand-written settings with the project's own env loader: {ratio:.2f}x time "
        f"({verdict(ratio <= 1.10)}), {extra:+.1f} MiB peak memory ({verdict(extra <= 5)}).",
    ]


def migrate_section(migrating: dict[str, float]) -> list[str]:
    loop = migrating["shell loop of migrate --database (4 processes)"]
    best = loop / migrating["migrate_all --parallel 4"]
    return [
        "## 4. Migrating 4 fresh PostgreSQL databases (median wall time, s)",
        "",
        "| how | seconds | speed-up vs the loop |",
        "|---|---|---|",
        *(f"| `{case}` | {sec:.2f} | {loop / sec:.2f}x |" for case, sec in migrating.items()),
        "",
        f"Target: >= 2x faster than the loop: {best:.2f}x with --parallel 4 "
        f"({verdict(best >= 2)}).",
    ]


def replica_section(behaviour: dict) -> list[str]:
    stale, outage = behaviour["stale"], behaviour["outage"]
    lines = [
        "## 5. Replica behaviour on the real streaming replica (5432 -> 5433)",
        "",
        '`benchmarks/replica_behaviour.py`. Ours: `replica_of="default", read_weight=0.8`.',
        "Seed: the seed page's `ReadReplicaRouter` (80% of reads to `replica` at random). Who",
        "served a read is asked of the server (`pg_is_in_recovery()`).",
        "",
        f"Replay paused, {stale['ours']['rounds']} rounds of write-then-read (a new context each):",
        "",
        "| router | stale reads | own row read from primary | an older row read from the standby |",
        "|---|---|---|---|",
    ]
    for router in ("ours", "seed"):
        r = stale[router]
        lines.append(
            f"| {router} | {r['stale']} of {r['rounds']} | {r['primary']} "
            f"| {r['old_row_on_standby']} of {r['rounds']} |"
        )
    lines += [
        "",
        "Replica stopped (`pg_ctl stop -m fast`) for 3 s under 4 reader threads, then restarted:",
        "",
        "| router | reads | failed reads | first primary read after the stop (s) "
        "| back on the standby after the restart (s) | slowest read (s) |",
        "|---|---|---|---|---|---|",
    ]
    for router in ("ours", "seed"):
        r = outage[router]
        lines.append(
            f"| {router} | {r['reads']} | {r['failed_total']} ({r['failed_during_outage']} of "
            f"{r['reads_during_outage']} during the outage) | {r['to_primary_seconds']} "
            f"| {r['back_to_standby_seconds']} | {r['slowest_read_seconds']} |"
        )
    lines += [
        "",
        "The seed's router keeps sending 80% of reads to the stopped replica: they fail until it",
        "is back. Ours moves them to the primary on the first failed connection and returns",
        "to the standby once one connection's retry (every second after a refusal) succeeds.",
    ]
    return lines


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        before = source_at(BEFORE, Path(tmp))
        counted = router_instructions(before)
        routing = router_cost()
        orm = orm_overhead()
        boot = startup(before)
    migrating = migrate_all()
    behaviour = replica_behaviour()
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {machine()}.",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `scripts/bench.sh`.",
        "Every case runs in its own process, interleaved with the others over several rounds;",
        "ratios compare cases from this same run. Profiles: `benchmarks/profiles/`.",
        "",
        *routing_section(routing, counted),
        "",
        *orm_section(orm),
        "",
        *startup_section(boot),
        "",
        *migrate_section(migrating),
        "",
        *replica_section(behaviour),
    ]
    (BENCH / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
