"""Ready-made environment loading: os.environ > .env.<env> > .env > config.<env>.yaml > defaults.

    # api/environment/loader.py
    from django_cfg import DatabaseURLs, EnvSettings

    class Environment(EnvSettings):
        secret_key: SecretStr | None = None
        database: DatabaseURLs = DatabaseURLs()

    env = Environment()          # env.database.url, env.database.url_blog, ...

The environment is ``DJANGO_ENV`` (see ``django_cfg.settings.django_env``). Files are read from the
project's base directory (set ``config_dir`` to change it), with pydantic-settings' own dotenv and
YAML sources; the YAML file is parsed only when it exists. Nested values use ``__``
(``DATABASE__URL_BLOG``); database URLs are also read in the single-underscore form
(``DATABASE_URL_BLOG``), with the ``__`` form winning when both are set.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from django_cfg.settings.base_dir import project_base_dir
from django_cfg.settings.config_errors import SettingsError, defined_in, raise_invalid_settings
from django_cfg.settings.database_urls import DatabaseURLs
from django_cfg.settings.django_env import current_environment
from django_cfg.settings.hidden_input import hidden_input_validator
from django_cfg.settings.production import (
    SettingsFile,
    describe_sources,
    refuse_environment_in_files,
    refuse_unset_in_production,
)

__all__ = ["ConfigFileError", "EnvSettings"]


class ConfigFileError(ValueError, SettingsError):
    """A settings file that cannot be read. The message never quotes the file's content."""


def _yaml_source(settings_cls: type[BaseSettings], yaml_file: Path) -> YamlConfigSettingsSource:
    import yaml

    try:
        return YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file)
    except yaml.YAMLError as error:
        # Position and the kind of problem only: pyyaml's messages may quote a token, and the
        # line may hold a password.
        details = [
            f"{_unquoted(getattr(error, text, None) or '')} at line {mark.line + 1}, "
            f"column {mark.column + 1}"
            for text, mark_name in (("context", "context_mark"), ("problem", "problem_mark"))
            if (mark := getattr(error, mark_name, None)) is not None
        ]
        raise ConfigFileError(
            f"{yaml_file} is not valid YAML ({'; '.join(details) or 'unreadable'}). Check the "
            "quoting there: a value holding ':', '#', quotes, or starting with '@', '%' or '*' "
            "needs quotes."
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise _unreadable(yaml_file, error) from None


def _dotenv_source(settings_cls: type[BaseSettings], files: list[Path]) -> DotEnvSettingsSource:
    try:
        return DotEnvSettingsSource(settings_cls, env_file=files)
    except (OSError, UnicodeDecodeError) as error:
        unreadable = next((file for file in files if not _readable(file)), files[0])
        raise _unreadable(unreadable, error) from None


def _readable(file: Path) -> bool:
    try:
        if file.exists():
            file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return True


def _unreadable(file: Path, error: OSError | UnicodeDecodeError) -> ConfigFileError:
    # Never the error itself: a UnicodeDecodeError carries the file's whole content.
    if isinstance(error, UnicodeDecodeError):
        return ConfigFileError(
            f"{file} is not UTF-8 text (an invalid byte at offset {error.start}); save it as UTF-8."
        )
    return ConfigFileError(f"{file} cannot be read ({error.strerror}).")


def _unquoted(text: str) -> str:
    return re.sub(r"'[^']*'|\"[^\"]*\"", "'...'", text).strip()


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

    model_config = SettingsConfigDict(
        env_nested_delimiter="__",
        extra="ignore",
        hide_input_in_errors=True,
        env_ignore_empty=True,  # DATABASE__URL= is unset: .env or the default applies
    )
    _hide_input = hidden_input_validator()  # no value read from a file or variable in errors

    config_dir: ClassVar[Path | None] = None
    """Folder holding .env and config.<environment>.yaml; default: the project's base directory."""

    def __init__(self, **values: Any) -> None:
        files = self._settings_files()
        refuse_environment_in_files(files)
        try:
            super().__init__(**values)
        except ValidationError as error:  # one line per variable, then the files read
            prefix = str(self.model_config.get("env_prefix") or "")
            raise_invalid_settings(
                error,
                defined_in(type(self)),
                where=lambda loc: "variable " + f"{prefix}{'__'.join(map(str, loc))}".upper(),
                footer=describe_sources(files),
            )
        # Outside dev/test, a database URL or secret_key that no source set is refused here,
        # naming the variable and the files read (see django_cfg.settings.production).
        refuse_unset_in_production(self, current_environment(), files)

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
        # The same files the production refusal names (_settings_files), read in that order.
        files = cls._settings_files()
        dotenv_files = [file.path for file in files if file.dotenv]
        dotenv = _dotenv_source(settings_cls, dotenv_files)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if isinstance(env_settings, EnvSettingsSource):
            sources.append(_SingleUnderscoreDatabaseURLs(settings_cls, env_settings))
        sources += [dotenv, _SingleUnderscoreDatabaseURLs(settings_cls, dotenv)]
        for file in files:
            if not file.dotenv and file.path.is_file():
                sources.append(_yaml_source(settings_cls, file.path))
        sources.append(file_secret_settings)
        return tuple(sources)
