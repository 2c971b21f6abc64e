"""The project's base directory, found from where a configuration class is defined.

    # project/manage.py, project/api/config.py -> base directory: project/
    class MyDjangoConfig(DjangoConfig): ...

It is the folder that holds the top-level package of the class's module, which is Django's own
``BASE_DIR`` for the usual layout. Relative SQLite paths and ``.env`` / YAML files are looked up
there, never in the process's current directory. Override with ``base_dir = Path(...)`` on a
``DjangoConfig`` or ``config_dir`` on an ``EnvSettings``.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["found_base_dir", "project_base_dir"]


def project_base_dir(cls: type) -> Path:
    """The folder holding the top-level package (or lone module) that defines ``cls``."""
    return found_base_dir(cls) or Path.cwd()  # cwd: a class typed into an interactive session


def found_base_dir(cls: type) -> Path | None:
    """``project_base_dir(cls)``, or None when no file or package defines ``cls``."""
    top = sys.modules.get(cls.__module__.partition(".")[0])
    file = getattr(top, "__file__", None)
    if file is not None:
        path = Path(file).resolve()
        return path.parent.parent if path.stem == "__init__" else path.parent
    locations = list(getattr(top, "__path__", []))  # a namespace package
    if locations:
        return Path(locations[0]).resolve().parent
    return None
