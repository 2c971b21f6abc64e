"""Configuration errors as Django reports them: an ``ImproperlyConfigured``, one short message.

    $ DATABASE__URL_BLOG=postgresql://db:5432 python manage.py check
    ...
      File "/srv/app/api/config.py", line 9, in MyDjangoConfig
        "blog_db": DatabaseConfig.from_url(url=env.database.url_blog),
    django_cfg.settings.config_errors.InvalidSettings: DatabaseConfig: ... missing database name

Every error the package raises while a settings module is imported is a ``SettingsError`` (a
``django.core.exceptions.ImproperlyConfigured``): URL errors, files that cannot be read, values
production refuses, and pydantic's ``ValidationError`` of a config class, which becomes an
``InvalidSettings`` (still a ``ValidationError``: ``errors()`` works, every input hidden) whose
message is one line per error, naming the class, its file, the field (or, for ``EnvSettings``,
the variable and the files read), without pydantic's rendering. It is raised ``from None``;
``DJANGO_CFG_TRACEBACK=1`` keeps pydantic's error, and where it was raised, as the cause.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from django.core.exceptions import ImproperlyConfigured
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from django_cfg.settings.hidden_input import hide_inputs

__all__ = [
    "TRACEBACK_VARIABLE",
    "ConfigModel",
    "InvalidSettings",
    "SettingsError",
    "field_location",
    "raise_invalid_settings",
]

TRACEBACK_VARIABLE = "DJANGO_CFG_TRACEBACK"


class SettingsError(ImproperlyConfigured):
    """A configuration the package refuses; the message says what, where and how to fix it."""


class InvalidSettings(ValidationError, SettingsError):
    """A config class's ``ValidationError`` with a short message (``str``); ``errors()`` as usual,
    every input hidden."""

    summary: str

    def __str__(self) -> str:
        return self.summary


def full_traceback_requested() -> bool:
    return os.environ.get(TRACEBACK_VARIABLE, "").strip().lower() in {"1", "true", "yes", "on"}


def shown_location(loc: Sequence[str | int]) -> str:
    """``("databases", "default", "port")`` -> ``databases.default.port``."""
    return ".".join(str(part) for part in loc)


def field_location(loc: Sequence[str | int]) -> str:
    """``field databases.default`` (nothing for a whole-model error): a config class's field."""
    return f"field {shown_location(loc)}" if loc else ""


def _message(line: ErrorDetails) -> str:
    text = str(line["msg"])
    return text.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def summary_lines(error: ValidationError, where: Callable[[Sequence[str | int]], str]) -> list[str]:
    """One ``<where>: <message>`` line per error of ``error``; ``where`` names the location."""
    lines = []
    for line in error.errors(include_url=False):
        place = where(line["loc"])
        lines.append(f"{place}: {_message(line)}" if place else _message(line))
    return lines


def raise_invalid_settings(
    error: ValidationError,
    owner: str,
    where: Callable[[Sequence[str | int]], str] = shown_location,
    footer: str = "",
) -> NoReturn:
    """Raise ``error`` as an ``InvalidSettings`` titled ``owner``, e.g. ``defined_in(cls)``;
    ``footer`` (the files read) ends the message."""
    invalid = hide_inputs(error, error_class=InvalidSettings)
    lines = summary_lines(invalid, where)
    if len(lines) == 1:
        invalid.summary = f"{owner}: {lines[0]}"
    else:
        invalid.summary = f"{owner}: {len(lines)} errors:\n" + "\n".join(f"  - {x}" for x in lines)
    if footer:
        invalid.summary += f"\n{footer}"
    if full_traceback_requested():
        raise invalid from error
    raise invalid from None


def defined_in(cls: type[Any]) -> str:
    """``MyDjangoConfig (api/config.py)``: a config class and the file defining it."""
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    if not path:
        return cls.__name__
    try:
        shown = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        shown = path
    return f"{cls.__name__} ({shown if not shown.startswith('..') else path})"


class ConfigModel(BaseModel):
    """A config class whose validation errors are one short ``InvalidSettings`` naming the class
    and the field (``CacheConfig: field location: ...``).

    Its subclasses are built when defined (``defer_build=False``); this base, which nothing
    validates, is not: building its empty schema cost every startup ~0.4M instructions."""

    model_config = ConfigDict(defer_build=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as error:
            raise_invalid_settings(error, type(self).__name__, where=field_location)
