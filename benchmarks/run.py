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


BEFORE = "f47f4ff"
"""The last commit before the database runtime (issue 12: the router stopped replacing
``django.db.router``'s methods); its code is measured beside ours."""


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
    """``src/`` as it was at ``revision`` (None if this checkout does not have it), with the
    example project of that commit beside it (``example_at``)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "src", "examples/saas"], capture_output=True
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
    "postgres": "django_cfg, the same on PostgreSQL (WAL-position pins)",
    "pinned": "django_cfg, replica + read-your-writes pin (read -> primary)",
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


def counted_instructions(
    args: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT
) -> int:
    """Instructions the whole process executed, counted by valgrind (repeatable, unlike time)."""
    done = subprocess.run(
        [*VALGRIND, PYTHON, *args],
        cwd=cwd,
        env={**os.environ, "PYTHONHASHSEED": "0", **(env or {})},
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    return int(done.stderr.split("Collected :")[1].split()[0])


def instructions(variant: str, source: Path | None = None, calls: int = 20_000) -> dict[str, int]:
    """Instructions per read and per write call: (N calls - no calls) / N."""
    env = {"PYTHONPATH": str(source)} if source else {}
    script = str(BENCH / "router_cost.py")
    counts = {
        mode: counted_instructions([script, variant, mode, str(calls)], env)
        for mode in ("idle", "read", "write")
    }
    return {m: round((counts[m] - counts["idle"]) / calls) for m in ("read", "write")}


def router_instructions(before: Path | None) -> dict[str, dict[str, int]]:
    if shutil.which("valgrind") is None:
        return {}
    jobs = [(v, None) for v in ROUTER_VARIANTS]
    if before is not None:
        jobs += [(v, before) for v in ("rules", "replicas", "postgres", "pinned")]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        counted = pool.map(lambda job: instructions(*job), jobs)
        return {
            (variant if source is None else f"{variant}@before"): result
            for (variant, source), result in zip(jobs, counted, strict=True)
        }


def orm_overhead(rounds: int = 3) -> dict[str, dict[str, dict[str, list[float]]]]:
    samples: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for _ in range(rounds):
        for engine in ("sqlite", "postgres"):
            result = run_json([str(BENCH / "orm_overhead.py"), engine])
            for query in ORM_QUERIES:
                for key in ("none_us", "router_us"):
                    samples[engine][query][key].append(result[query][key])
                samples[engine][query]["ratios"] += result[query]["ratios"]
    return samples


ORM_QUERIES = {"pk_lookup": ("pk lookup", 200), "list_100": ("100-row list", 50)}
ORM_CASES = {
    "pk_lookup": ("none", "router", "using:default", "using:replica", "using:replica_plain"),
    "list_100": ("none", "router", "using:default", "using:replica"),
}
"""orm_overhead.py's cases (its docstring): the router's own overhead is
router - none - (using:replica - using:default), the same query on the same backend and alias."""


def orm_instructions() -> dict[tuple[str, str], dict[str, int]]:
    """Instructions per query in this process (the database server's work is not counted):
    (count at 3N - count at N) / 2N, so one-off costs cancel out."""
    if shutil.which("valgrind") is None:
        return {}
    jobs = [
        (engine, case, query, calls * factor)
        for engine in ("sqlite", "postgres")
        for query, (_, calls) in ORM_QUERIES.items()
        for case in ORM_CASES[query]
        for factor in (1, 3)
    ]

    def count(job: tuple[str, str, str, int]) -> int:
        engine, case, query, calls = job
        return counted_instructions(
            [str(BENCH / "orm_overhead.py"), engine, "count", case, query, str(calls)]
        )

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        totals = dict(zip(jobs, pool.map(count, jobs), strict=True))
    return {
        (engine, query): {
            case: round(
                (totals[(engine, case, query, 3 * calls)] - totals[(engine, case, query, calls)])
                / (2 * calls)
            )
            for case in ORM_CASES[query]
        }
        for engine in ("sqlite", "postgres")
        for query, (_, calls) in ORM_QUERIES.items()
    }


STARTUP = {
    "hand-written settings": ("handwritten_settings", False),
    "hand-written + project env loader": ("handwritten_env_settings", False),
    "DjangoConfig (api.settings)": ("api.settings", False),
    f"DjangoConfig, django_cfg as of {BEFORE}": ("api.settings", True),
}


def example_at(source: Path | None) -> Path:
    """The example project beside ``source`` (``source_at``), else this checkout's: the code of
    an earlier commit starts the example as it was then (its settings use that code's API)."""
    return source.parent / "examples" / "saas" if source is not None else EXAMPLE


def startup_env(module: str, old: bool, before: Path | None) -> dict[str, str]:
    path = f".:{BENCH / 'startup'}" + (f":{before}" if old and before else "")
    return {"PYTHONPATH": path, "DJANGO_SETTINGS_MODULE": module}


def compile_bytecode(*folders: Path) -> None:
    """As installed: pip compiles a wheel's modules, and a project's own are cached after their
    first import (unless PYTHONDONTWRITEBYTECODE is set, as on these machines)."""
    subprocess.run([PYTHON, "-m", "compileall", "-q", *map(str, folders)], check=True)


def startup(before: Path | None, rounds: int = 15) -> dict[str, dict[str, dict[str, float]]]:
    olds = [before, example_at(before)] if before else []
    compile_bytecode(ROOT / "src", EXAMPLE, BENCH / "startup", *olds)
    cases = {name: case for name, case in STARTUP.items() if before or not case[1]}
    samples: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for _ in range(rounds):
        for name, (module, old) in cases.items():
            started = time.perf_counter()
            result = run_json(
                [str(BENCH / "startup" / "setup_once.py")],
                cwd=example_at(before if old else None),
                env=startup_env(module, old, before),
            )
            samples[name]["seconds"].append(time.perf_counter() - started)
            samples[name]["max_rss_mib"].append(result["max_rss_kib"] / 1024)
    summary = {n: {k: spread(xs) for k, xs in d.items()} for n, d in samples.items()}
    if shutil.which("valgrind"):
        setup_once = str(BENCH / "startup" / "setup_once.py")
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            counts = pool.map(
                lambda case: counted_instructions(
                    [setup_once],
                    startup_env(case[0], case[1], before),
                    cwd=example_at(before if case[1] else None),
                ),
                cases.values(),
            )
            for name, count in zip(cases, counts, strict=True):
                summary[name]["instructions"] = {"median": count, "low": count, "high": count}
    return summary


def migrate_all() -> dict[str, float]:
    return run_json([str(BENCH / "migrate_all_vs_loop.py"), "3"])


def replica_behaviour() -> dict[str, dict[str, dict[str, Any]]]:
    results: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for mode in ("stale", "outage"):
        for router in ("ours", "spec"):
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
    lines = [
        "## 1. Routing decision cost, through Django's own router loop (`django.db.router`)",
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
    multidb = routing["multidb"]
    limits = {"read": 1.0, "write": 1.5}  # issue 12: reads cheaper, writes <= 1.5x
    for variant, label in {"replicas": "SQLite replica", "postgres": "PostgreSQL replica"}.items():
        full = routing[variant]
        by_time = {k: full[k]["median"] / multidb[k]["median"] for k in ("read_ns", "write_ns")}
        line = (
            f"- {label} against django-multidb-router's PinningReplicaRouter: "
            f"read {by_time['read_ns']:.2f}x, write {by_time['write_ns']:.2f}x of its median time"
        )
        if "multidb" in counted:
            ours, theirs = counted[variant], counted["multidb"]
            ratio = {k: ours[k] / theirs[k] for k in ("read", "write")}
            line += (
                f"; by instructions read {ratio['read']:.2f}x "
                f"(target < 1: {verdict(ratio['read'] < limits['read'])}), write "
                f"{ratio['write']:.2f}x (target <= 1.5: {verdict(ratio['write'] <= 1.5)})"
            )
        lines.append(line + ".")
    lines.append(
        "- PinningReplicaRouter's `db_for_write` only returns `default` (its middleware pins"
        " after a POST); ours also marks the context for read-your-writes on every write."
    )
    if "replicas@before" in counted:
        lines += [
            "",
            f"Before / after the runtime (django_cfg as of `{BEFORE}` vs now, same run,",
            "instructions per call; `before` called the router's methods directly, having",
            "replaced `django.db.router`'s, so it skipped Django's loop that `now` runs):",
            "",
            "| variant | read before | read now | write before | write now |",
            "|---|---|---|---|---|",
        ]
        for variant in ("rules", "replicas", "postgres", "pinned"):
            old, new = counted[f"{variant}@before"], counted[variant]
            lines.append(
                f"| {variant} | {old['read']} | {new['read']} ({new['read'] / old['read']:.2f}x) "
                f"| {old['write']} | {new['write']} ({new['write'] / old['write']:.2f}x) |"
            )
    return lines


def orm_section(orm: dict, counted: dict[tuple[str, str], dict[str, int]]) -> list[str]:
    lines = [
        "## 2. ORM overhead of the router per query (a replica configured, DEBUG off)",
        "",
        "`orm_overhead.py`. Instructions per query in the Python process, counted by valgrind",
        "((count at 3N - count at N) / 2N, garbage collector off during the queries; for",
        "PostgreSQL the server's work is not counted). With the router, reads go to the replica",
        "alias; without it, to `default`. `backend` is what reading the replica alias costs with",
        "no router at all (`db_manager('replica')` minus `db_manager('default')`: its backend",
        "and its server); the router's own overhead is `router - no router - backend`, the same",
        "query with and without the router on the same backend for the same alias.",
        "",
        "| engine | query | no router | router | router / no router | backend "
        "| router's own | own ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    worst = 0.0
    for engine in ("sqlite", "postgres"):
        for query, (label, _) in ORM_QUERIES.items():
            c = counted.get((engine, query))
            if not c:
                continue
            backend = c["using:replica"] - c["using:default"]
            own = c["router"] - c["none"] - backend
            own_ratio = (c["none"] + own) / c["none"]
            if query == "pk_lookup":
                worst = max(worst, own_ratio)
            lines.append(
                f"| {engine} | {label} | {c['none']:,} | {c['router']:,} "
                f"| {c['router'] / c['none']:.4f} | {backend:+,} | {own:+,} | {own_ratio:.4f} |"
            )
    if counted:
        lines += [
            "",
            f"Target, pk lookup: router's own overhead <= 0.5%: worst {100 * (worst - 1):.2f}%"
            f" ({verdict(worst <= 1.005)}).",
        ]
        for engine in ("sqlite", "postgres"):
            c = counted[(engine, "pk_lookup")]
            failover = c["using:replica"] - c["using:replica_plain"]
            lines.append(
                f"- {engine}: the replica alias's backend against Django's own backend on the "
                f"same server (`replica_plain`): {failover:+,} instructions per pk lookup "
                f"({100 * failover / c['none']:+.2f}%)"
                + (
                    "; the same backend on SQLite, so this is noise."
                    if engine == "sqlite"
                    else " (the failover backend's `ensure_connection` and cursor `execute`)."
                )
            )
    lines += [
        "",
        "Time, both cases in one process alternating over 10 rounds, 3 processes (median us per",
        "query; ratio: median of the per-round ratios, range): this machine's noise is larger",
        "than the effect, the instruction counts above are the measure.",
        "",
        "| engine | query | no router (us) | router (us) | time ratio |",
        "|---|---|---|---|---|",
    ]
    for engine, queries in orm.items():
        for query, (label, _) in ORM_QUERIES.items():
            values = queries[query]
            lines.append(
                f"| {engine} | {label} | {statistics.median(values['none_us']):.1f} "
                f"| {statistics.median(values['router_us']):.1f} "
                f"| {statistics.median(values['ratios']):.3f} "
                f"({min(values['ratios']):.2f}-{max(values['ratios']):.2f}) |"
            )
    return lines


def startup_section(boot: dict) -> list[str]:
    lines = [
        "## 3. Startup: `django.setup()` of the example project, whole process",
        "",
        "Median wall time and peak RSS over 15 interleaved rounds (range), and the instructions",
        "the whole process ran (valgrind). Every module has its bytecode compiled, as after",
        "`pip install` (these machines set PYTHONDONTWRITEBYTECODE=1, which would otherwise make",
        "every run compile django_cfg and the project from source).",
        "",
        "| settings | wall time (s) | peak RSS (MiB) | instructions (M) |",
        "|---|---|---|---|",
    ]
    for name, values in boot.items():
        seconds, rss = values["seconds"], values["max_rss_mib"]
        count = values.get("instructions", {}).get("median")
        lines.append(
            f"| {name} | {seconds['median']:.3f} ({seconds['low']:.3f}-{seconds['high']:.3f}) "
            f"| {rss['median']:.1f} | {count / 1e6:.0f} |"
            if count
            else f"| {name} | {seconds['median']:.3f} | {rss['median']:.1f} | - |"
        )
    env_base = boot["hand-written + project env loader"]
    ours = boot["DjangoConfig (api.settings)"]
    ratio = ours["seconds"]["median"] / env_base["seconds"]["median"]
    extra = ours["max_rss_mib"]["median"] - env_base["max_rss_mib"]["median"]
    lines += [
        "",
        f"Against the hand-written settings with the project's own env loader: {ratio:.2f}x time "
        f"({verdict(ratio <= 1.10)}), {extra:+.1f} MiB peak memory ({verdict(extra <= 5)}).",
    ]
    if "instructions" in ours:
        exact = ours["instructions"]["median"] / env_base["instructions"]["median"]
        lines.append(f"By instructions: {exact:.3f}x ({verdict(exact <= 1.10)}).")
    return lines


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
        "## 5. Replica behaviour on a real streaming replica (a private primary + standby)",
        "",
        '`benchmarks/replica_behaviour.py`. Ours: `replica_of="default", read_weight=0.8`.',
        "Spec: the specification page's `ReadReplicaRouter` (80% of reads to `replica` at random).",
        "Who served a read is asked of the server (`pg_is_in_recovery()`).",
        "",
        f"Replay paused, {stale['ours']['rounds']} rounds of write-then-read (a new context each):",
        "",
        "| router | stale reads | own row read from primary | an older row read from the standby |",
        "|---|---|---|---|",
    ]
    for router in ("ours", "spec"):
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
        "| back on the standby after the restart, first / all readers (s) | slowest read (s) |",
        "|---|---|---|---|---|---|",
    ]
    for router in ("ours", "spec"):
        r = outage[router]
        lines.append(
            f"| {router} | {r['reads']} | {r['failed_total']} ({r['failed_during_outage']} of "
            f"{r['reads_during_outage']} during the outage) | {r['to_primary_seconds']} "
            f"| {r['first_back_seconds']} / {r['all_back_seconds']} "
            f"| {r['slowest_read_seconds']} |"
        )
    lines += [
        "",
        "The spec's router keeps sending 80% of reads to the stopped replica; none fails because",
        "an alias named `replica` is a replica of `default` by its name (docs/replicas.md), so",
        "its backend connects to the primary when the replica refuses. Ours moves reads to the",
        "primary on the first failed connection and returns to the standby once one connection's",
        "retry (every second after a refusal) succeeds.",
    ]
    return lines


SECTIONS = ("routing", "orm", "startup", "migrate", "replicas")
"""run.py's measured sections, numbered 1 to 5 in RESULTS.md, in this order."""


def measure(names: set[str]) -> dict[str, list[str]]:
    """The lines of each section in ``names``, measured in this run."""
    sections: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        before = source_at(BEFORE, Path(tmp)) if names & {"routing", "startup"} else None
        if "routing" in names:
            counted = router_instructions(before)
        if "orm" in names:
            orm_counted = orm_instructions()
        if "routing" in names:
            sections["routing"] = routing_section(router_cost(), counted)
        if "orm" in names:
            sections["orm"] = orm_section(orm_overhead(), orm_counted)
        if "startup" in names:
            sections["startup"] = startup_section(startup(before))
    if "migrate" in names:
        sections["migrate"] = migrate_section(migrate_all())
    if "replicas" in names:
        sections["replicas"] = replica_section(replica_behaviour())
    return sections


def merged(previous: str, sections: dict[str, list[str]]) -> str:
    """RESULTS.md with the measured sections replaced (each dated under its heading) and
    everything else kept: hand-written summaries and sections (``## `` headings other than
    ``## 1.`` to ``## 5.``) stay where they are."""
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    header = [
        "# Benchmark results",
        "",
        f"Machine: {machine()}.",
        "Measured by `scripts/bench.sh` (each numbered section says when). Every case runs in its",
        "own process, interleaved with the others over several rounds; ratios compare cases from",
        "the same run. Profiles: `benchmarks/profiles/`.",
    ]
    blocks: list[tuple[str | None, list[str]]] = []  # (section name or None, its lines)
    for line in previous.splitlines():
        if line.startswith("## "):
            number = line[3:].split(".", 1)[0]
            known = number.isdigit() and 0 < int(number) <= len(SECTIONS)
            blocks.append((SECTIONS[int(number) - 1] if known else None, [line]))
        elif blocks:
            blocks[-1][1].append(line)
    fresh = {
        name: [lines[0], "", f"*Measured {stamp}.*", *lines[1:], ""]
        for name, lines in sections.items()
    }
    body: list[str] = []
    for name, lines in blocks:
        body += fresh.pop(name) if name in fresh else lines
    for lines in fresh.values():  # a section RESULTS.md did not have yet
        body += lines
    return "\n".join([*header, "", *body]).rstrip() + "\n"


def main() -> None:
    """``run.py [SECTION ...]``: every section, or the ones named (routing orm startup migrate
    replicas); the others, and the hand-written parts of RESULTS.md, are kept as they are."""
    names = set(sys.argv[1:]) or set(SECTIONS)
    unknown = names - set(SECTIONS)
    if unknown:
        sys.exit(f"run.py: unknown section(s) {sorted(unknown)}; choose from {list(SECTIONS)}")
    sections = measure(names)
    ordered = {name: sections[name] for name in SECTIONS if name in sections}
    results = BENCH / "RESULTS.md"
    previous = results.read_text() if results.exists() else ""
    results.write_text(merged(previous, ordered))
    for lines in ordered.values():
        print("\n".join(lines), end="\n\n")


if __name__ == "__main__":
    main()
