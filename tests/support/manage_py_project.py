"""A throw-away project run through ``manage.py``: one ``api/config.py`` (a ``DjangoConfig``),
the ``api/settings.py`` the docs show, and startproject's ``manage.py``; more files if asked.

    write_manage_py_project(tmp_path, CONFIG)
    run = run_process([sys.executable, "manage.py", "check"], cwd=tmp_path)

    write_manage_py_project(
        tmp_path,
        CONFIG,
        apps={"rows": unmanaged_model("Row", "app_row", "name = models.TextField()")},
        files={
            "api/urls.py": DJANGO_CFG_URLS,  # -/readyz, -/metrics
            "worker.py": SCRIPT_SETUP + "from rows.models import Row\\n...",  # python worker.py
        },
    )
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

FILES = {
    "manage.py": """\
        import os, sys
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")
        from django.core.management import execute_from_command_line
        execute_from_command_line(sys.argv)
        """,
    "api/__init__.py": "",
    "api/settings.py": """\
        from api.config import config
        globals().update(config.get_all_settings())
        """,
}

DJANGO_CFG_URLS = """\
from django.urls import include, path

urlpatterns = [path("-/", include("django_cfg.urls"))]
"""
"""An ``api/urls.py`` that serves ``django_cfg.urls`` (-/livez, -/readyz, -/metrics) under -/."""

SCRIPT_SETUP = """\
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")
import django

django.setup()
"""
"""The head of a script run beside ``manage.py`` (``python worker.py``): Django set up with
the project's settings, as a WSGI server's worker does."""


def unmanaged_model(name: str, table: str, *fields: str) -> str:
    """A ``models.py`` of one model ``name`` over ``table``, a table the test creates itself
    (``managed = False``); ``fields``: its field lines (``"seq = models.IntegerField()"``)."""
    body = "".join(f"    {field}\n" for field in fields)
    return (
        "from django.db import models\n\n\n"
        f"class {name}(models.Model):\n{body}\n"
        f'    class Meta:\n        db_table = "{table}"\n        managed = False\n'
    )


def write_manage_py_project(
    root: Path,
    config: str,
    apps: Mapping[str, str] | None = None,
    files: Mapping[str, str] | None = None,
) -> None:
    """Write the project under ``root`` with ``config`` (indented as in a test) as api/config.py,
    ``apps`` (an app's label -> its models.py) and ``files`` (a path below ``root`` -> its text,
    written as it is)."""
    project = {
        name: textwrap.dedent(text) for name, text in {**FILES, "api/config.py": config}.items()
    }
    for label, models in (apps or {}).items():
        project.update({f"{label}/__init__.py": "", f"{label}/models.py": models})
    for name, text in {**project, **(files or {})}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
