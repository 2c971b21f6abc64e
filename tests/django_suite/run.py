"""Run Django's ``tests/runtests.py`` with ``django_cfg`` installed (``scripts/django_suite.sh``).

    python tests/django_suite/run.py <django source>/tests --settings=<module> [runtests.py args...]

runtests.py sets INSTALLED_APPS itself, from its module-level ``ALWAYS_INSTALLED_APPS`` plus the
test modules, so no settings module can add an app. This runs runtests.py as ``__main__`` with
``"django_cfg"`` added to that list (its checks, relation handling and read-only guard are then
active, as in a project), and the settings module's ``SUITE_APPS`` if it has them, with this
project's ``src`` and root on ``sys.path``. If a Django release renames the list, the
replacement finds nothing and this stops with an error rather than running without the app.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS_LIST = "ALWAYS_INSTALLED_APPS = [\n"


def suite_apps(arguments: list[str]) -> list[str]:
    """``django_cfg`` and the ``SUITE_APPS`` of the ``--settings`` module among ``arguments``."""
    names = [a.split("=", 1)[1] for a in arguments if a.startswith("--settings=")]
    extra = getattr(importlib.import_module(names[-1]), "SUITE_APPS", []) if names else []
    return ["django_cfg", *extra]


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        sys.exit("usage: run.py <django source>/tests [runtests.py arguments...]")
    tests_dir = Path(argv[1]).resolve()
    runtests = tests_dir / "runtests.py"
    source = runtests.read_text(encoding="utf-8")
    if source.count(APPS_LIST) != 1:
        sys.exit(f"{runtests}: no single {APPS_LIST.strip()!r} to add django_cfg to.")
    sys.path[:0] = [str(tests_dir), str(ROOT / "src"), str(ROOT)]
    added = "".join(f"    {app!r},\n" for app in suite_apps(argv[2:]))
    source = source.replace(APPS_LIST, APPS_LIST + added)
    sys.argv = [str(runtests), *argv[2:]]
    code = compile(source, str(runtests), "exec")
    exec(code, {"__name__": "__main__", "__file__": str(runtests)})


if __name__ == "__main__":
    main(sys.argv)
