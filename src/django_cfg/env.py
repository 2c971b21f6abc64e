"""Ready-made environment loading: os.environ > .env.<env> > .env > config.<env>.yaml > defaults.

    # api/environment/loader.py
    from django_cfg import DatabaseURLs, EnvSettings

    class Environment(EnvSettings):
        secret_key: SecretStr | None = None
        database: DatabaseURLs = DatabaseURLs()

    env = Environment()          # env.database.url, env.database.url_blog, ...

The environment is ``DJANGO_ENV`` (see ``django_cfg.environment``). Files are read from the
project's base directory (set ``config_dir`` to change it), with pydantic-settings' own dotenv and
YAML sources; the YAML file is parsed only when it exists. Nested values use ``__``
(``DATABASE__URL_BLOG``); database URLs are also read in the single-underscore form
(``DATABASE_URL_BLOG``), with the ``__`` form winning when both are set.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from .base_dir import project_base_dir
from .databases.env_urls import DatabaseURLs
from .environment import current_environment
from .production_settings import SettingsFile, refuse_unset_in_production

__all__ = ["EnvSettings"]


class _SingleUnderscoreDatabaseURLs(PydanticBaseSettingsSource):
    """``DATABASE_URL`` / ``DATABASE_URL_BLOG`` for every field typed ``DatabaseURLs``.

    Reads the variables an env or dotenv source has already loaded, so it keeps that source's
    place in the precedence order.
    """

    def __init__(self, settings_cls: type[BaseSettings], variables: EnvSettingsSource) -> None:
        super().__init__(settings_cls)
        self._variables = variables.env_vars

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ answers for all fields at once

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for field_name, field in self.settings_cls.model_fields.items():
            annotation = field.annotation
            if not (isinstance(annotation, type) and issubclass(annotation, DatabaseURLs)):
                continue
            pattern = re.compile(rf"^{re.escape(field_name)}_(url(?:_[a-z0-9_]+)?)$", re.IGNORECASE)
            for variable, value in self._variables.items():
                match = pattern.match(variable)
                if match and value is not None:
                    found.setdefault(field_name, {})[match.group(1).lower()] = value
        return found


class EnvSettings(BaseSettings):
    """Base class for a project's environment settings, read from variables, .env and YAML."""

    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    config_dir: ClassVar[Path | None] = None
    """Folder holding .env and config.<environment>.yaml; default: the project's base directory."""

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)
        # Outside dev/test, a database URL or secret_key that no source set is refused here,
        # naming the variable and the files read (see django_cfg.production_settings).
        refuse_unset_in_production(self, current_environment(), self._settings_files())

    @classmethod
    def _settings_files(cls) -> list[SettingsFile]:
        folder = cls.config_dir if cls.config_dir is not None else project_base_dir(cls)
        environment = current_environment()
        return [
            SettingsFile(folder / ".env", dotenv=True),
            SettingsFile(folder / f".env.{environment}", dotenv=True),
            SettingsFile(folder / f"config.{environment}.yaml"),
        ]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        folder = cls.config_dir if cls.config_dir is not None else project_base_dir(cls)
        environment = current_environment()
        dotenv = DotEnvSettingsSource(
            settings_cls, env_file=[folder / ".env", folder / f".env.{environment}"]
        )
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if isinstance(env_settings, EnvSettingsSource):
            sources.append(_SingleUnderscoreDatabaseURLs(settings_cls, env_settings))
        sources += [dotenv, _SingleUnderscoreDatabaseURLs(settings_cls, dotenv)]
        yaml_file = folder / f"config.{environment}.yaml"
        if yaml_file.is_file():
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file))
        sources.append(file_secret_settings)
        return tuple(sources)
