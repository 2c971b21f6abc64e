"""Startup imports what the configured features use (issue 23 point 5), in a fresh process:
``django.setup()`` of the benchmark's project (three databases, a replica, app rules, no
tenants) imports neither Celery nor the tenant code nor the check modules, nor the models of
settings it does not set (tenants, caches, e-mail); the Celery
integration is still connected as soon as the project imports Celery, and the checks run."""

from __future__ import annotations

import json
from pathlib import Path

from django_cfg.runtime.after_import import after_import
from tests.support.spec_page import run_python

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
import django
django.setup()
loaded = sorted(m for m in sys.modules if m.startswith(("django_cfg", "celery")))
# the package's own integration module first: importing it is not what connects it
from django_cfg.replicas import celery as pins_celery
from celery import signals
from django.core.management import call_command
call_command("check", "--deploy", "--fail-level", "CRITICAL", verbosity=0)
print(json.dumps({
    "loaded": loaded,
    "publish": sorted(str(key[0]) for key, _ in signals.before_task_publish.receivers),
    "prerun": sorted(str(key[0]) for key, _ in signals.task_prerun.receivers),
    "checks_loaded": sorted(m for m in sys.modules if m.startswith("django_cfg.checks.")),
}))
"""


def test_setup_without_tenants_imports_no_celery_tenants_or_checks_yet() -> None:
    out = run_python(
        "-c",
        SCRIPT,
        cwd=ROOT / "examples" / "saas",
        env={
            "PYTHONPATH": f".:{ROOT / 'benchmarks' / 'startup'}",
            "DJANGO_SETTINGS_MODULE": "floor_django_cfg",
        },
    )
    result = json.loads(out.strip().splitlines()[-1])
    loaded = result["loaded"]
    assert not [m for m in loaded if m == "celery" or m.startswith("celery.")]
    assert not [m for m in loaded if m.startswith("django_cfg.tenants")]
    # the models of settings this project does not set are not defined (settings/model_on_use.py)
    assert not {f"django_cfg.settings.{m}" for m in ("tenants", "caches", "email")} & set(loaded)
    assert not [
        m for m in loaded if m.startswith("django_cfg.checks.") and m != "django_cfg.checks.tag"
    ]
    assert "django_cfg.runtime.runtime" in loaded  # the runtime itself is built at ready()
    # Celery imported after setup: read-your-writes follows its tasks all the same
    assert result["publish"] == result["prerun"] == ["django_cfg_pins"]
    # the checks ran: their modules were imported by the run, not before
    assert {"django_cfg.checks.routing", "django_cfg.checks.deployment"} <= set(
        result["checks_loaded"]
    )


def test_after_import_runs_now_for_a_loaded_module_and_later_for_one_not_yet_loaded() -> None:
    import sys

    seen: list[str] = []
    after_import("json", lambda module: seen.append(module.__name__))
    assert seen == ["json"]
    name = "tests.architecture._after_import_probe"
    sys.modules.pop(name, None)
    after_import(name, lambda module: seen.append(f"{module.__name__}:{module.VALUE}"))
    assert seen == ["json"]  # not imported by after_import
    probe = __import__(name, fromlist=["VALUE"])
    assert seen == ["json", f"{name}:42"]  # right after the module's own code ran
    assert type(probe.__loader__).__name__ == "SourceFileLoader"  # its own loader again
    assert not [f for f in sys.meta_path if getattr(f, "name", None) == name]
