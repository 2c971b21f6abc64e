"""Issue 23 point 5: ``django.setup()`` of a three-database project with a replica and routing
rules (the example project's apps), three ways side by side in one run:

- plain hand-written settings (``startup/floor_handwritten.py``: dicts, a hand-written router);
- the same plus the floor of any pydantic-typed configuration (``startup/floor_pydantic.py``:
  import pydantic, define and validate one model);
- django_cfg (``startup/floor_django_cfg.py``: ``DjangoConfig`` with the same databases).

    python benchmarks/startup_floor.py [ROUNDS] [OUT.json] [--before=REVISION]

``--before=c4951c4`` adds a fourth variant: django_cfg's ``src/`` as of that revision (``git
archive``), the same settings files and venv, counted in the same run. Every variant has a
``src/`` first on ``PYTHONPATH`` (each path entry costs every import a lookup).

Instructions of the whole process are counted by valgrind (PYTHONHASHSEED=0; the same code
counts within ~0.1%); peak RSS (ru_maxrss) and tracemalloc's peak are medians over ROUNDS
interleaved processes. Bytecode is compiled first, as after ``pip install``. The target: the
django_cfg variant within 0.05x (of the plain variant's instructions) and 1 MiB of the pydantic
floor.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from run import BENCH, EXAMPLE, ROOT, compile_bytecode, counted_instructions, run_json, source_at

VARIANTS: dict[str, tuple[str, Path | None]] = {
    # name: (settings module, django_cfg's src/ folder; None: this checkout's, as installed)
    "plain hand-written": ("floor_handwritten", None),
    "hand-written + pydantic floor": ("floor_pydantic", None),
    "django_cfg": ("floor_django_cfg", None),
}
SETUP_ONCE = str(BENCH / "startup" / "setup_once.py")


def env(module: str, source: Path | None = None, traced: bool = False) -> dict[str, str]:
    # Every variant has a src/ folder first on its path (this checkout's, where it is installed
    # from, or --before's), so that each searches as many folders for its imports.
    return {
        "PYTHONPATH": f"{source or ROOT / 'src'}:.:{BENCH / 'startup'}",
        "DJANGO_SETTINGS_MODULE": module,
        "DJANGO_CFG_TRACEMALLOC": "1" if traced else "0",
    }


def memory(rounds: int) -> dict[str, dict[str, float]]:
    samples: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for _ in range(rounds):
        for name, (module, source) in VARIANTS.items():
            rss = run_json([SETUP_ONCE], cwd=EXAMPLE, env=env(module, source))
            samples[name]["rss_mib"].append(rss["max_rss_kib"] / 1024)
            traced = run_json([SETUP_ONCE], cwd=EXAMPLE, env=env(module, source, traced=True))
            samples[name]["traced_mib"].append(traced["traced_peak_bytes"] / 2**20)
    return {n: {k: statistics.median(xs) for k, xs in d.items()} for n, d in samples.items()}


def instructions() -> dict[str, int]:
    if shutil.which("valgrind") is None:
        return {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = pool.map(
            lambda case: counted_instructions([SETUP_ONCE], env(*case), cwd=EXAMPLE),
            VARIANTS.values(),
        )
        return dict(zip(VARIANTS, counts, strict=True))


def table(result: dict) -> list[str]:
    counts, mem = result["instructions"], result["memory"]
    plain = "plain hand-written"
    lines = [
        "| variant | instructions (M) | / plain | peak RSS (MiB) | tracemalloc peak (MiB) |",
        "|---|---|---|---|---|",
    ]
    for name in VARIANTS:
        lines.append(
            f"| {name} | {counts[name] / 1e6:,.0f} | {counts[name] / counts[plain]:.3f}x "
            f"| {mem[name]['rss_mib']:.1f} | {mem[name]['traced_mib']:.1f} |"
        )
    floor = "hand-written + pydantic floor"
    lines.append("")
    for ours in (name for name in VARIANTS if name.startswith("django_cfg")):
        extra = (counts[ours] - counts[floor]) / counts[plain]
        lines.append(
            f"{ours} over the pydantic floor: {extra:+.3f}x of the plain instructions "
            f"(target <= 0.05x), {mem[ours]['rss_mib'] - mem[floor]['rss_mib']:+.1f} MiB peak "
            f"RSS, {mem[ours]['traced_mib'] - mem[floor]['traced_mib']:+.1f} MiB tracemalloc "
            "peak (target <= 1 MiB)."
        )
    return lines


def main() -> None:
    before = [arg.partition("=")[2] for arg in sys.argv[1:] if arg.startswith("--before=")]
    args = [arg for arg in sys.argv[1:] if not arg.startswith("--before=")]
    rounds = int(args[0]) if args else 9
    with tempfile.TemporaryDirectory() as folder:
        if before:
            source = source_at(before[0], Path(folder))
            if source is None:
                raise SystemExit(f"no src/ at {before[0]}")
            VARIANTS[f"django_cfg, before ({before[0]})"] = ("floor_django_cfg", source)
        compile_bytecode(ROOT / "src", EXAMPLE, BENCH / "startup", Path(folder))
        result = {"memory": memory(rounds), "instructions": instructions(), "rounds": rounds}
    if len(args) > 1:
        Path(args[1]).write_text(json.dumps(result, indent=1))
    print("\n".join(table(result)))


if __name__ == "__main__":
    main()
