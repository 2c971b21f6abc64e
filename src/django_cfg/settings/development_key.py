"""The development ``SECRET_KEY``: random per checkout, kept in an untracked file of the project.

    <base dir>/.django-cfg-development-key      (mode 0600, created on first use)

``DjangoConfig`` uses it when ``secret_key`` is not set and the project runs in a development
environment (``DJANGO_ENV`` unset, ``dev`` or ``test``) with ``debug`` on. Like the key that
``django-admin startproject`` writes, it is random (``get_random_secret_key()``), so nothing in the
repository lets anyone compute it; unlike it, it is never committed: add the file name to
``.gitignore``. Deleting the file makes a new key at the next start (sessions and signed cookies
made with the old one stop being valid).

Two processes starting at once agree on one key: the key is written to a private temporary file
that is then hard-linked to its final name, which fails if the name exists; the loser reads the
winner's key. Where the folder cannot be written (a read-only image), or no project folder is
known (``DjangoConfig`` used directly, a class typed into a shell), the key is random per
process instead.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from pathlib import Path

__all__ = [
    "DEVELOPMENT_KEY_FILE",
    "DEVELOPMENT_KEY_PREFIX",
    "DevelopmentKeyError",
    "development_key_origin",
    "development_secret_key",
    "is_development_key",
]

DEVELOPMENT_KEY_PREFIX = "django-insecure-development-key-"
"""Prefix of every development key; Django's ``check --deploy`` flags ``django-insecure-``."""

DEVELOPMENT_KEY_FILE = ".django-cfg-development-key"

# Printable ASCII, no spaces, as get_random_secret_key; compiled at first use (re's cache).
_RANDOM_PART = r"^[!-~]{50,}$"
_lock = threading.Lock()
_process_key: list[str] = []  # the per-process key, once made


class DevelopmentKeyError(ValueError):
    """The development key file exists but does not hold a development key."""


def is_development_key(key: str) -> bool:
    """True for keys made by this module (from its file or per process)."""
    return key.startswith(DEVELOPMENT_KEY_PREFIX)


def development_key_origin(key: str) -> str:
    """Where ``key`` is kept: its file (when ``settings.BASE_DIR`` holds it) or this process."""
    from django.conf import settings

    base_dir = getattr(settings, "BASE_DIR", None)
    if base_dir is not None:
        path = Path(base_dir) / DEVELOPMENT_KEY_FILE
        try:
            if path.read_text(encoding="ascii", errors="replace").strip() == key:
                return f"kept in {path}"
        except OSError:
            pass
    return "made for this process only"


def development_secret_key(folder: Path | None) -> str:
    """The key kept in ``folder``/.django-cfg-development-key, created there on first use.

    ``folder`` None, or a folder where the file cannot be created, gives a per-process key.
    """
    if folder is not None:
        try:
            return _read_or_create(folder / DEVELOPMENT_KEY_FILE)
        except OSError:
            pass  # read-only or missing folder: a per-process key, never a computable one
    return _per_process_key()


def _new_key() -> str:
    # Imported here: django.core.management is not otherwise loaded by a server's startup.
    from django.core.management.utils import get_random_secret_key

    return DEVELOPMENT_KEY_PREFIX + get_random_secret_key()


def _per_process_key() -> str:
    with _lock:
        if not _process_key:
            _process_key.append(_new_key())
        return _process_key[0]


def _read_or_create(path: Path) -> str:
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    descriptor, temporary = tempfile.mkstemp(  # mode 0600, in the same folder (same filesystem)
        prefix=f"{DEVELOPMENT_KEY_FILE}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as stream:
            stream.write(_new_key() + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        try:
            os.link(temporary, path)  # atomic, and never replaces a key another process made
        except FileExistsError:
            pass
        except OSError:  # a filesystem without hard links: exclusive create
            _create_exclusively(path, Path(temporary).read_text(encoding="ascii"))
    finally:
        os.unlink(temporary)
    return _read(path)


def _create_exclusively(path: Path, text: str) -> None:
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(descriptor, "w", encoding="ascii") as stream:
        stream.write(text)


def _read(path: Path) -> str:
    key = path.read_text(encoding="ascii", errors="replace").strip()
    if not (is_development_key(key) and re.match(_RANDOM_PART, key[len(DEVELOPMENT_KEY_PREFIX) :])):
        raise DevelopmentKeyError(
            f"{path} does not hold a development key (expected {DEVELOPMENT_KEY_PREFIX!r} and "
            "50+ random characters). Delete the file: a new key is made at the next start."
        )
    return key
