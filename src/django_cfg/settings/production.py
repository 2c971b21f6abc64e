"""What a non-development environment must set explicitly: its database URLs and its secret key.

A loader's built-in default (``sqlite:///db/default.sqlite3``) is right on a laptop and wrong in
production, where it means that a variable did not arrive: forgotten, or on a line of ``.env.prod``
that python-dotenv could not parse (an unterminated quote), which it skips with nothing but a log
record. Outside the ``dev`` and ``test`` environments such a fallback stops the process at startup:

- ``EnvSettings`` (``settings.env_settings``) knows which values no source set (pydantic's
  ``model_fields_set``) and which files it read. It refuses a ``DatabaseURLs`` field whose ``url``
  no source set, and a declared ``secret_key`` field that is unset or empty, naming the variable,
  each file it read (or looked for) and every line of those files that could not be parsed
  (by line number and variable name, never the value).
- ``DjangoConfig`` refuses a database that is the specification's hand-written loader's default
  (``databases["default"]`` at ``sqlite:///db/default.sqlite3``, ``databases["<name>_db"]`` at
  ``sqlite:///db/<name>.sqlite3``) while its variable (``DATABASE__URL``, ``DATABASE__URL_<NAME>``,
  or the single-underscore form) is absent from the process environment, which is all such a
  loader reads. Running production on that SQLite file on purpose: set the variable explicitly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import SecretStr

from django_cfg.settings.config_errors import SettingsError
from django_cfg.settings.django_env import (
    DEVELOPMENT_ENVIRONMENTS,
    ENVIRONMENT_VARIABLE,
    current_environment,
    normalised_environment,
)

__all__ = [
    "ProductionSettingsError",
    "SettingsFile",
    "describe_sources",
    "fallback_database_problem",
    "fallback_url",
    "is_development",
    "refuse_environment_in_files",
    "refuse_unset_in_production",
]

_BUILT_IN_URL = "sqlite:///db/default.sqlite3"  # DatabaseURLs.url's default
_SPEC_DEFAULT_FOLDER = "db/"
# Compiled at first use (re's own cache), not at every startup (issue 23).
_VARIABLE_AT_LINE_START = r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*="


class ProductionSettingsError(ValueError, SettingsError):
    """A non-development environment would start on a built-in default (database URL, key)."""


def is_development(environment: str) -> bool:
    return environment in DEVELOPMENT_ENVIRONMENTS


class SettingsFile(NamedTuple):
    """A file a settings loader looks for; ``dotenv`` ones are scanned for unparsable lines."""

    path: Path
    dotenv: bool = False

    def describe(self, short: bool = False) -> str:
        name = self.path.name if short else str(self.path)
        return f"{name} ({'read' if self.path.is_file() else 'not found'})"

    def unparsable_lines(self) -> list[str]:
        """``line 3 (sets DATABASE__URL)`` for each line python-dotenv skips; never a value."""
        if not (self.dotenv and self.path.is_file()):
            return []
        from dotenv.parser import parse_stream

        found = []
        with self.path.open(encoding="utf-8", errors="replace") as stream:
            for binding in parse_stream(stream):
                if not binding.error:
                    continue
                original = binding.original
                last = original.line + max(original.string.rstrip("\n").count("\n"), 0)
                lines = f"line {original.line}" + (f"-{last}" if last > original.line else "")
                variable = re.match(_VARIABLE_AT_LINE_START, original.string)
                named = f" (sets {variable.group(1)})" if variable else ""
                found.append(f"{self.path}, {lines}{named}")
        return found


def refuse_environment_in_files(files: Iterable[SettingsFile]) -> None:
    """Raise ``ProductionSettingsError`` when a dotenv file sets ``DJANGO_ENV`` to another
    environment than the process runs in: the variable chooses which files are read, so it is
    read from the process environment only, and the file's line would be silently ignored."""
    if os.environ.get(ENVIRONMENT_VARIABLE, "").strip():
        return  # the process chose (empty is unset): files agree with it or are overridden
    from dotenv import dotenv_values

    running = current_environment()
    for file in files:
        if not (file.dotenv and file.path.is_file()):
            continue
        try:
            values = {key.upper(): value for key, value in dotenv_values(file.path).items()}
        except (OSError, UnicodeDecodeError):
            continue  # reading it for the settings fails next, with ConfigFileError's message
        written = values.get(ENVIRONMENT_VARIABLE)
        if written and normalised_environment(written) != running:
            raise ProductionSettingsError(
                f"{ENVIRONMENT_VARIABLE}={written} is set in {file.path}, but "
                f"{ENVIRONMENT_VARIABLE} is read from the process environment only (it chooses "
                f"which files are read: .env.<env>, config.<env>.yaml), so this process would "
                f"run as {running!r}, with that environment's defaults (DEBUG). Set it where the "
                f"process starts (export {ENVIRONMENT_VARIABLE}={written}, the service unit or "
                f"the container's environment) and remove the line from {file.path}."
            )


def refuse_unset_in_production(
    settings: Any, environment: str, files: Iterable[SettingsFile]
) -> None:
    """Raise ``ProductionSettingsError`` for URLs/keys of an ``EnvSettings`` no source set."""
    if is_development(environment):
        return
    from django_cfg.settings.database_urls import DatabaseURLs

    prefix = str(type(settings).model_config.get("env_prefix") or "")
    missing: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if (
            isinstance(value, DatabaseURLs)
            and value.url is not None  # a default of None configures no database: no fallback
            and "url" not in value.model_fields_set
        ):
            default = _BUILT_IN_URL if value.url == SecretStr(_BUILT_IN_URL) else "(not shown)"
            double, single = f"{prefix}{name}__url".upper(), f"{prefix}{name}_url".upper()
            missing.append(
                f"{double} (or {single}): not set, so the database would be the built-in "
                f"default {default}"
            )
        elif name == "secret_key" and not _secret_text(value):
            missing.append(f"{prefix}{name}".upper() + ": not set or empty")
    if not missing:
        return
    files = list(files)
    unparsable = [line for file in files for line in file.unparsable_lines()]
    message = [
        f"{type(settings).__name__}: in the {environment!r} environment ({ENVIRONMENT_VARIABLE}) "
        "these must be set explicitly:",
        *(f"  - {item}" for item in missing),
        describe_sources(files),
    ]
    if unparsable:
        message += [
            "python-dotenv could not parse, and skipped, these lines (check their quotes):",
            *(f"  - {line}" for line in unparsable),
        ]
    message.append(
        "Set each variable in the process environment or one of these files. "
        f"{ENVIRONMENT_VARIABLE}=dev (or test) allows the development defaults."
    )
    raise ProductionSettingsError("\n".join(message))


def describe_sources(files: list[SettingsFile]) -> str:
    """``Read: the process environment and, in /srv/app: .env (read), ...``"""
    folders = {file.path.parent for file in files}
    if len(folders) == 1:
        listed = ", ".join(file.describe(short=True) for file in files)
        return f"Read: the process environment and, in {folders.pop()}: {listed}."
    return f"Read: the process environment, {', '.join(file.describe() for file in files)}."


def _secret_text(value: Any) -> str:
    if value is None:
        return ""
    getter = getattr(value, "get_secret_value", None)
    text = getter() if callable(getter) else value
    return text if isinstance(text, str) else str(text)


def _variables_for(alias: str) -> list[str] | None:
    """``DATABASE__URL`` (+ the ``_`` form) for ``default``, ``..._URL_BLOG`` for ``blog_db``."""
    from django_cfg.settings.database_urls import url_key_for_alias

    key = url_key_for_alias(alias)
    return None if key is None else [f"DATABASE__{key.upper()}", f"DATABASE_{key.upper()}"]


def _spec_default_name(alias: str) -> str:
    return _SPEC_DEFAULT_FOLDER + ("default" if alias == "default" else alias[:-3]) + ".sqlite3"


def fallback_url(
    alias: str, engine: str, name: str, variables: Mapping[str, str] | None = None
) -> tuple[str, str] | None:
    """``(url, variable)`` when this database is the specification loader's SQLite default for
    ``alias`` (``name`` relative to the base directory) and its variable is absent from
    ``variables`` (the process environment), else None."""
    names = _variables_for(alias)
    if names is None or engine != "django.db.backends.sqlite3" or name != _spec_default_name(alias):
        return None
    present = {variable.upper() for variable in (os.environ if variables is None else variables)}
    return None if present.intersection(names) else (f"sqlite:///{name}", names[0])


def fallback_database_problem(
    databases: Mapping[str, Any], environment: str, variables: Mapping[str, str] | None = None
) -> str | None:
    """What is wrong when databases are the specification loader's SQLite fallbacks, or None."""
    if is_development(environment):
        return None
    found = [
        (alias, *fallback)
        for alias, database in databases.items()
        # not when set by a variable, .env or YAML file that EnvSettings read
        if not getattr(database, "_url_set_explicitly", False)
        and (fallback := fallback_url(alias, database.engine, database.name, variables))
    ]
    if not found:
        return None
    listed = "; ".join(
        f"databases[{alias!r}] is {url} and {variable} is not set" for alias, url, variable in found
    )
    _, url, variable = found[0]
    return (
        f"{listed} in the process environment (environment {environment!r}). These are the "
        "built-in defaults of the specification's loader: the variable did not arrive "
        "(forgotten, or skipped as a malformed line of an env file). Set it; to run on such a "
        f"SQLite file on purpose, set it explicitly ({variable}={url})."
    )
