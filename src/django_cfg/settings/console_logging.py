"""``LOGGING`` for a project that sets a level only: records of that level and above to stderr.

    class MyDjangoConfig(DjangoConfig):
        log_level = "INFO"          # or logging = {...}, a logging.config.dictConfig dict

Django's own loggers keep their handlers (``disable_existing_loggers`` is False); the root
logger, and so every library's and the project's loggers, print to the console at ``log_level``.
"""

from __future__ import annotations

from typing import Any, Literal

__all__ = ["LogLevel", "console_logging"]

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def console_logging(level: LogLevel) -> dict[str, Any]:
    """A dictConfig dict: every record at ``level`` or above to stderr, with time and logger."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": "{asctime} {levelname} {name}: {message}", "style": "{"},
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
        "root": {"handlers": ["console"], "level": level},
    }
