"""The specification page's code blocks (tests/spec/multi-database.md), a project to run them in.

Blocks run verbatim. Fragments that the page shows without their imports (later examples reuse
the first example's imports) get exactly those imports prepended; nothing else is added to them.
"""

from __future__ import annotations

import importlib
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

SPEC = Path(__file__).resolve().parents[1] / "spec" / "multi-database.md"

LOADER_IMPORTS = (
    "from pydantic import Field\nfrom pydantic_settings import BaseSettings, SettingsConfigDict\n\n"
)
CONFIG_IMPORTS = (
    "from django_cfg import DjangoConfig, DatabaseConfig\nfrom .environment import env\n\n"
)

# The user's glue, which the page implies (`from .environment import env`, `env.database.url`).
ENVIRONMENT_PACKAGE = """\
from pydantic import BaseModel, Field
from .loader import DatabaseConfig


class Environment(BaseModel):
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)


env = Environment()
"""

# A manage.py for a project whose settings module is settings.py at its root.
MANAGE_PY = """\
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
"""

# settings.py exactly as the foundation issue and README show it.
SETTINGS_MODULE = "from api.config import config\nglobals().update(config.get_all_settings())\n"


@dataclass(frozen=True)
class Block:
    language: str
    section: str
    text: str


def blocks() -> list[Block]:
    found, section = [], ""
    for match in re.finditer(
        r"^(#{2,4}) ([^\n]+)$|^```(\w+)\n(.*?)^```$", SPEC.read_text(), re.M | re.S
    ):
        if match.group(1):
            section = match.group(2).strip()
        else:
            found.append(Block(match.group(3), section, match.group(4)))
    return found


def block(language: str, section: str, first_line: str) -> str:
    """The one ``language`` block under heading ``section`` starting with ``first_line``."""
    matches = [
        b.text
        for b in blocks()
        if b.language == language and b.section == section and b.text.startswith(first_line)
    ]
    assert len(matches) == 1, (
        f"{len(matches)} {language} blocks in {section!r} start {first_line!r}"
    )
    return matches[0]


def variables(env_block: str) -> dict[str, str]:
    """A bash/.env block's variables (``${VAR}`` expanded from os.environ, as dotenv does)."""
    return {key: value or "" for key, value in dotenv_values(stream=io.StringIO(env_block)).items()}


class SpecProject:
    """A throw-away project directory holding the spec's files, imported in this process."""

    modules = ("api", "myapp", "settings")

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, path: str, text: str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def write_project(self, loader: str, config: str, routers: str | None = None) -> None:
        """Write api/, myapp/ and settings.py from the page's blocks."""
        if "import" not in loader:
            loader = LOADER_IMPORTS + loader
        if "from django_cfg import" not in config:
            config = CONFIG_IMPORTS + config
        if "config = MyDjangoConfig()" not in config:
            config += "\n\nconfig = MyDjangoConfig()\n"
        self.write("api/__init__.py", "")
        self.write("api/environment/__init__.py", ENVIRONMENT_PACKAGE)
        self.write("api/environment/loader.py", loader)
        self.write("api/config.py", config)
        if routers is not None:
            self.write("myapp/__init__.py", "")
            self.write("myapp/routers.py", routers)
        self.write("settings.py", SETTINGS_MODULE)

    def settings(self, loader: str, config: str, routers: str | None = None) -> dict[str, Any]:
        """Write the project and import its settings.py; returns the module's settings."""
        self.write_project(loader, config, routers)
        self.forget()
        sys.path.insert(0, str(self.root))
        importlib.invalidate_caches()
        try:
            module = importlib.import_module("settings")
        finally:
            sys.path.remove(str(self.root))
        return {name: value for name, value in vars(module).items() if name.isupper()}

    def forget(self) -> None:
        for name in list(sys.modules):
            if name.partition(".")[0] in self.modules:
                del sys.modules[name]


def run_python(
    *args: str,
    cwd: Path,
    database_url: str | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
    stdin: str | None = None,
) -> str:
    """Run ``python *args`` in ``cwd`` as a user would, with only ``DATABASE__URL`` set (if given).

    The test process's own DATABASE*/DJANGO_* variables are not passed on; ``env`` adds some.
    Returns stdout (plus stderr when ``check`` is False); with ``check``, a non-zero exit fails
    the test with the output.
    """
    run = run_process(
        [sys.executable, *args], cwd=cwd, database_url=database_url, env=env, stdin=stdin
    )
    if check:
        assert run.returncode == 0, run.stdout + run.stderr
        return run.stdout
    return run.stdout + run.stderr


def run_process(
    command: list[str],
    cwd: Path,
    database_url: str | None = None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with the user's environment only (no DATABASE*/DJANGO_* of this process)."""
    environ = user_environment(env)
    if database_url:
        environ["DATABASE__URL"] = database_url
    return subprocess.run(
        command, cwd=cwd, env=environ, capture_output=True, text=True, timeout=timeout, input=stdin
    )


def user_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without its DATABASE*/DJANGO_* variables, plus ``extra``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "DJANGO_"))}
    return {**environ, **(extra or {})}
