"""Where a benchmark spends its time: py-spy samples, summed per source line, as Markdown.

    python benchmarks/profile.py NAME [--focus TEXT] -- python benchmarks/router_cost.py replicas

Runs the command under ``py-spy record`` (100 samples/s x the run) and writes
``benchmarks/profiles/NAME.md``: the source lines holding the most samples ("self", the line
itself was running) and the functions holding the most samples in their call tree ("total").
``--focus`` keeps only the samples whose stack has TEXT (a function name), e.g. the timed loop.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PY_SPY = Path(sys.executable).parent / "py-spy"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("--focus", default="")
    parser.add_argument("--rate", type=int, default=1000)
    split = sys.argv.index("--") if "--" in sys.argv else len(sys.argv)
    args = parser.parse_args(sys.argv[1:split])
    command = sys.argv[split + 1 :]
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "stacks.txt"
        spy = [str(PY_SPY), "record", "--rate", str(args.rate), "--format", "raw"]
        subprocess.run(
            [*spy, "--output", str(raw), "--", *command],
            check=True,
            capture_output=True,
        )
        stacks = parse(raw.read_text(), args.focus)
    out = BENCH / "profiles" / f"{args.name}.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(render(args.name, command, args.focus, stacks))
    print(out.read_text())


def parse(raw: str, focus: str) -> Counter[tuple[str, ...]]:
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and (not focus or focus in stack):
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def render(name: str, command: list[str], focus: str, stacks: Counter[tuple[str, ...]]) -> str:
    total = sum(stacks.values()) or 1
    by_line: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    for frames, count in stacks.items():
        by_line[frames[-1]] += count
        for function in {frame.split(" (")[0] for frame in frames}:
            by_function[function] += count
    shown = " ".join(Path(c).name if c.endswith(".py") else c for c in command)
    lines = [
        f"# Profile: {name}",
        "",
        f"`{shown}` under py-spy, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC;"
        f" {total} samples" + (f" whose stack has `{focus}`" if focus else "") + ".",
        "",
        "| self % | source line |",
        "|---|---|",
        *(f"| {100 * n / total:.1f} | `{frame}` |" for frame, n in by_line.most_common(15)),
        "",
        "| total % | function |",
        "|---|---|",
        *(f"| {100 * n / total:.1f} | `{fn}` |" for fn, n in by_function.most_common(12)),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
