"""Database URLs named by the specification's convention, and the ``databases`` dict they describe.

    DATABASE__URL=postgresql://app@db/main          -> databases["default"]
    DATABASE__URL_BLOG=postgresql://app@db/blog     -> databases["blog_db"]
    DATABASE_URL_SHOP=postgresql://app@db/shop      -> databases["shop_db"]   (single '_' too)

    class Environment(EnvSettings):
        database: DatabaseURLs = DatabaseURLs()

    env = Environment()
    databases = databases_from_urls(env.database, blog_db={"apps": ["blog"]})

``url`` is ``default``; ``url_<name>`` is ``<name>_db``. Every URL is held as a ``SecretStr``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from django_cfg.settings.config_errors import field_location, raise_invalid_settings
from django_cfg.settings.database_config import DatabaseConfig
from django_cfg.settings.hidden_input import hidden_input_validator, hide_inputs
from django_cfg.settings.replica_names import primary_by_name
from django_cfg.settings.url import DatabaseURLError, NamedDatabaseURL

__all__ = ["DatabaseURLs", "alias_for_url_key", "databases_from_urls", "url_key_for_alias"]

_URL_KEY = re.compile(r"^url(_[a-z][a-z0-9_]*)?$")


def alias_for_url_key(key: str) -> str:
    """``url`` -> ``default``; ``url_blog`` -> ``blog_db``."""
    if not _URL_KEY.match(key):
        raise DatabaseURLError(
            f"{key!r} is not a database URL name: expected 'url' or 'url_<name>'."
        )
    return "default" if key == "url" else f"{key[4:]}_db"


def url_key_for_alias(alias: str) -> str | None:
    """The inverse of ``alias_for_url_key``: ``default`` -> ``url``; ``blog_db`` -> ``url_blog``;
    None for an alias the naming convention does not produce."""
    if alias == "default":
        return "url"
    if alias.endswith("_db") and len(alias) > 3:
        return f"url_{alias[:-3]}"
    return None


class DatabaseURLs(BaseModel):
    """``url`` plus any number of ``url_<name>`` entries; every value is kept secret."""

    model_config = ConfigDict(extra="allow", hide_input_in_errors=True)
    _hide_input = hidden_input_validator()  # errors() and json() hold no URL either

    url: SecretStr | None = Field(default=SecretStr("sqlite:///db/default.sqlite3"))
    __pydantic_extra__: dict[str, SecretStr | None] = Field(init=False)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        # Never raises: its input holds raw URLs, which a ValidationError would carry.
        # Names outside the url/url_<name> convention are refused by databases_from_urls.
        if not isinstance(data, Mapping):
            return data
        return {str(key).lower(): value if value != "" else None for key, value in data.items()}

    @model_validator(mode="after")
    def _remember_names(self) -> Self:
        # So that DatabaseConfig.from_url(env.database.url_blog) can name the URL in its errors.
        # Written to __dict__: an assignment would add "url" to model_fields_set, which tells
        # whether a source set the URL (production refuses the built-in default).
        if self.url is not None:
            explicit = "url" in self.model_fields_set
            self.__dict__["url"] = NamedDatabaseURL(self.url.get_secret_value(), "url", explicit)
        extra = self.__pydantic_extra__ or {}
        for key, value in extra.items():
            if value is not None:
                extra[key] = NamedDatabaseURL(value.get_secret_value(), key)
        return self

    def urls(self) -> dict[str, SecretStr]:
        """Every URL that is set, by its name (``url``, ``url_blog``, ...)."""
        named = {"url": self.url, **(self.__pydantic_extra__ or {})}
        return {key: value for key, value in named.items() if value is not None}


def databases_from_urls(
    urls: DatabaseURLs | Mapping[str, str | SecretStr | None],
    **fields_by_alias: Mapping[str, Any],
) -> dict[str, DatabaseConfig]:
    """``{alias: DatabaseConfig}`` from URLs named ``url`` / ``url_<name>``; unset ones are skipped.

    Keyword arguments add fields per alias:
    ``databases_from_urls(urls, blog_db={"apps": ["blog"]})``.
    """
    named = urls.urls() if isinstance(urls, DatabaseURLs) else dict(urls)
    databases = {alias_for_url_key(key.lower()): value for key, value in named.items() if value}
    unknown = sorted(set(fields_by_alias) - set(databases))
    if unknown:
        raise DatabaseURLError(
            f"fields given for {', '.join(map(repr, unknown))}, which no URL configures; "
            f"configured aliases: {', '.join(map(repr, databases))}."
        )
    keys = {alias_for_url_key(key.lower()): key.lower() for key in named}
    configs: dict[str, DatabaseConfig] = {}
    for alias, url in databases.items():
        secret = url.get_secret_value() if isinstance(url, SecretStr) else url
        explicit = url.explicit if isinstance(url, NamedDatabaseURL) else False
        named_url = NamedDatabaseURL(secret, keys[alias], explicit)
        fields = _with_replica_by_name(alias, databases, fields_by_alias.get(alias, {}))
        try:
            configs[alias] = DatabaseConfig.from_url(named_url, **fields)
        except DatabaseURLError as error:
            raise DatabaseURLError(f"databases[{alias!r}]: {error}") from None
        except ValidationError as error:
            raise_invalid_settings(
                hide_inputs(error, loc_prefix=(alias,)),
                f"databases[{alias!r}] ({named_url.described})",
                where=lambda loc: field_location(loc[1:]),
            )
    return configs


def _with_replica_by_name(
    alias: str, aliases: Collection[str], fields: Mapping[str, Any]
) -> Mapping[str, Any]:
    """``fields`` plus ``replica_of`` for an alias named as a replica (``replica_db`` of
    ``url_replica``) that declares no role, so that ``replica_db={"read_weight": 0.8}`` is
    accepted as a replica's weight (as ``DjangoConfig`` would make it a replica anyway)."""
    declared = {"replica_of", "apps", "read_only", "copy_of"}.intersection(fields)
    primary = primary_by_name(alias, aliases)
    if declared or primary is None:
        return fields
    return {**fields, "replica_of": primary}
