"""A throw-away project run through ``manage.py``: one ``api/config.py`` (a ``DjangoConfig``),
the ``api/settings.py`` the docs show, and startproject's ``manage.py``.

    write_manage_py_project(tmp_path, CONFIG)
    run = run_process([sys.executable, "manage.py", "check"], cwd=tmp_path)
"""

from __future__ import annotations

import textwrap
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


def write_manage_py_project(root: Path, config: str) -> None:
    """Write the project under ``root`` with ``config`` (indented as in a test) as api/config.py."""
    for name, text in {**FILES, "api/config.py": config}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
