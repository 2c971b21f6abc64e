"""The cost of opening n SQLite tenants in one process, for a past revision ("before") and
this checkout ("after") side by side (issue 23, point 1: opening n tenants must cost O(n)).

    python benchmarks/tenant_open_cost.py [REVISION] [--rounds 3] [--valgrind]

Each side is ``tenant_request_cost.py open sqlite N MARKS`` (this checkout's script and test
project) on its own ``src/`` (REVISION's from ``git archive``, ``main`` by default): one
process opens N tenants by ``registry.alias_for`` (``add_database`` and the runtime derived or
rebuilt) and prints the CPU seconds (``time.process_time``) spent opening at each mark. Sides
interleaved over the rounds, medians. ``--valgrind``: also the instructions of opening N
(valgrind, one process per side and N, less the same process opening none). Prints a Markdown
table and one JSON line.
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

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "benchmarks" / "tenant_request_cost.py")
MARKS = (100, 200, 400, 1000, 2000)
VALGRIND = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]


def source_at(revision: str) -> Path:
    into = Path(tempfile.mkdtemp(prefix="tenant_open_cost_"))
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "src"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "src"


def opening(src: Path, folder: str, opened: int, marks: str, prefix: list[str]) -> str:
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONHASHSEED": "0", "BENCH_FOLDER": folder}
    done = subprocess.run(
        [*prefix, sys.executable, SCRIPT, "open", "sqlite", str(opened), marks],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    return done.stdout if not prefix else done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision", nargs="?", default="main")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--valgrind", action="store_true")
    args = parser.parse_args()
    sides = {"before": source_at(args.revision), "after": ROOT / "src"}
    folder = tempfile.mkdtemp(prefix="tenant_open_cost_")  # the files are never opened
    try:
        medians, counts = measure(sides, folder, args.rounds, args.valgrind)
    finally:
        shutil.rmtree(folder)
        shutil.rmtree(sides["before"].parent)
    report(args.revision, medians, counts)


def measure(
    sides: dict[str, Path], folder: str, rounds: int, valgrind: bool
) -> tuple[dict[str, dict[int, float]], dict[str, dict[int, int]]]:
    marks = ",".join(map(str, MARKS))
    seconds: dict[str, dict[int, list[float]]] = {s: {m: [] for m in MARKS} for s in sides}
    for _ in range(rounds):
        for side, src in sides.items():
            spent = json.loads(opening(src, folder, max(MARKS), marks, []).splitlines()[-1])
            for mark in MARKS:
                seconds[side][mark].append(spent[str(mark)])
    medians = {s: {m: statistics.median(v) for m, v in d.items()} for s, d in seconds.items()}
    counts: dict[str, dict[int, int]] = {}
    if valgrind:
        for side, src in sides.items():
            raw = {
                n: int(opening(src, folder, n, "", VALGRIND).split("Collected :")[1].split()[0])
                for n in (0, *MARKS)
            }
            counts[side] = {n: raw[n] - raw[0] for n in MARKS}
    return medians, counts


def report(
    revision: str, medians: dict[str, dict[int, float]], counts: dict[str, dict[int, int]]
) -> None:
    print(f"\nOpening n SQLite tenants, {revision} (before) and this checkout (after):\n")
    print("| n | before: CPU s | after: CPU s | before: ms per tenant | after: ms per tenant |")
    print("|---|---|---|---|---|")
    for mark in MARKS:
        b, a = medians["before"][mark], medians["after"][mark]
        print(f"| {mark} | {b:.3f} | {a:.3f} | {b / mark * 1000:.3f} | {a / mark * 1000:.3f} |")
    if counts:
        print("\n| n | before: instructions per tenant | after: instructions per tenant |")
        print("|---|---|---|")
        for mark in MARKS:
            before, after = counts["before"][mark], counts["after"][mark]
            print(f"| {mark} | {before / mark:,.0f} | {after / mark:,.0f} |")
    print(json.dumps({"seconds": medians, "instructions": counts}))


if __name__ == "__main__":
    main()
