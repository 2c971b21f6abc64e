"""An ``EnvSettings`` class reading a given folder, for the settings-loading tests."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from django_cfg import DatabaseURLs, EnvSettings


def environment_in(folder: Path) -> type[EnvSettings]:
    """Settings with a secret key, debug and the database URLs, their files in ``folder``."""

    class Environment(EnvSettings):
        config_dir = folder
        secret_key: SecretStr | None = None
        debug: bool = False
        database: DatabaseURLs = DatabaseURLs()

    return Environment
