"""One database: typed fields, built from a URL, turned into a Django ``DATABASES`` entry.

    DatabaseConfig.from_url(env.database.url)
    DatabaseConfig.from_url("postgresql://app@db/blog", apps=["blog"])           # blog's home
    DatabaseConfig.from_url(env.database.url_replica, replica_of="default")      # a read replica
    DatabaseConfig.from_url(env.database.url_analytics, read_only=True)          # a warehouse
    DatabaseConfig.from_url("postgresql://app@pgbouncer:6432/main?pooler=transaction")  # pooled
    DatabaseConfig(engine="django_cockroachdb", name="app", host="crdb")         # any ENGINE

The password is a ``SecretStr``: it is shown as ``**********`` in repr and dumps and as ``***`` in
``str()`` and ``redacted_url``; only ``to_django()`` hands the real value to Django.
"""

import importlib.util
from pathlib import Path
from typing import Any, Self

from pydantic import (
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from django_cfg.settings.config_errors import ConfigModel, field_location, raise_invalid_settings
from django_cfg.settings.hidden_input import hidden_input_validator
from django_cfg.settings.pooler import POOLER_KEY, PoolerMode
from django_cfg.settings.replica_options import REPLICA_DEFAULTS
from django_cfg.settings.replica_reads import ReplicaReads
from django_cfg.settings.sqlite import MEMORY, names_a_file
from django_cfg.settings.url import (
    DRIVER_DEFAULTS,
    ENGINES,
    PRIMARY_CONNECT_TIMEOUT,
    DatabaseURLError,
    NamedDatabaseURL,
    engine_family,
    parse_database_url,
    port_list,
    quoted_for_message,
    redacted_url,
    replica_engine,
    server_list,
)

__all__ = ["DatabaseConfig"]


_READ_ONLY_STATEMENTS = {
    "mysql": "SET SESSION TRANSACTION READ ONLY",
    "sqlite": "PRAGMA query_only = ON",
}


def _make_read_only(options: dict[str, Any], family: str | None) -> None:
    """Make every session of this database refuse writes, at the database itself."""
    if family == "postgresql":
        flag = "-c default_transaction_read_only=on"
        options["options"] = f"{options['options']} {flag}" if options.get("options") else flag
    elif family in _READ_ONLY_STATEMENTS:
        statement = _READ_ONLY_STATEMENTS[family]
        existing = options.get("init_command")
        options["init_command"] = f"{existing}; {statement}" if existing else statement


def _database_named(url: str | SecretStr) -> str:
    if isinstance(url, NamedDatabaseURL):
        return f"DatabaseConfig of the {url.described}"
    return "DatabaseConfig"


class DatabaseConfig(ConfigModel):
    """A database connection plus its role in routing (home of ``apps``, replica, read-only)."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", hide_input_in_errors=True, defer_build=False
    )
    _hide_input = hidden_input_validator()  # errors() and json() hold no input either
    # True when built from a URL that a source of EnvSettings set (a variable, .env, YAML): never
    # a loader's fallback default, which production refuses (production_settings.py).
    _url_set_explicitly: bool = PrivateAttr(default=False)

    engine: str = Field(
        min_length=1, description="Django ENGINE, e.g. django.db.backends.postgresql"
    )
    name: str = Field(description="Database name, or the SQLite file path / ':memory:'")
    user: str = ""
    password: SecretStr | None = None
    host: str = Field(
        default="",
        description="Host name, IP address or unix-socket directory; PostgreSQL: several, "
        "separated by ',' (libpq tries them in turn)",
    )
    port: int | str | None = Field(
        default=None,
        description="Port; with several hosts, one for all or one per host: '5432,5433'",
    )
    options: dict[str, Any] = Field(default_factory=dict, description="Driver OPTIONS")

    conn_max_age: int | None = Field(default=0, ge=0, description="Seconds; None = unlimited")
    conn_health_checks: bool = Field(
        default=False,
        description="Check a kept connection before its first statement of a request (SELECT 1, "
        "at most connect_timeout); a pool checks each connection it hands out unless False is "
        "given",
    )
    atomic_requests: bool = False
    autocommit: bool = True
    disable_server_side_cursors: bool = False
    time_zone: str | None = None
    pool: bool | dict[str, Any] = Field(
        default=False, description="PostgreSQL connection pool: True or psycopg_pool arguments"
    )
    test: dict[str, Any] = Field(default_factory=dict, description="Django's TEST settings")
    pooler: PoolerMode | None = Field(
        default=None,
        description="'transaction' behind a transaction pooler (PgBouncer): server-side cursors "
        "and prepared statements off, pooler-safe locks; 'session' for a session pooler "
        "(settings/pooler.py)",
    )

    apps: tuple[str, ...] = Field(default=(), description="App labels whose home is this database")
    replica_of: str | None = Field(default=None, description="Alias of the primary it replicates")
    read_weight: float = Field(
        default=1.0, ge=0, description="Share of the primary's reads (the rest stay on it)"
    )
    max_lag_seconds: float | None = Field(
        default=None, gt=0, description="Skip this replica while it is further behind (PostgreSQL)"
    )
    max_lag_bytes: int | None = Field(
        default=None, gt=0, description="Skip this replica while it is more WAL bytes behind"
    )
    read_only: bool = Field(default=False, description="No writes or migrations (a warehouse)")
    copy_of: str | None = Field(
        default=None, description="Alias of the primary whose tables this database also holds"
    )

    @classmethod
    def from_url(cls, url: str | SecretStr, **fields: Any) -> Self:
        """Build from a database URL; keyword ``fields`` override what the URL says.

        ``options`` given here are merged into the URL's query options. A URL that cannot be read
        raises ``DatabaseURLError`` (a ``ValueError``); the URL is parsed before validation so that
        no raw URL, and so no password, is ever part of a ``ValidationError``'s input.
        """
        try:
            parsed = parse_database_url(
                url.get_secret_value() if isinstance(url, SecretStr) else url
            )
        except DatabaseURLError as error:
            if not isinstance(url, NamedDatabaseURL):
                raise
            raise DatabaseURLError(f"{url.described}: {error}") from None
        options = {**parsed.pop("options", {}), **(fields.pop("options", None) or {})}
        try:
            config = cls.model_validate({**parsed, **fields, "options": options})
        except ValidationError as error:
            raise_invalid_settings(error, _database_named(url), where=field_location)
        config._url_set_explicitly = isinstance(url, NamedDatabaseURL) and url.explicit
        return config

    @model_validator(mode="before")
    @classmethod
    def _refuse_url_text(cls, data: Any) -> Any:
        if isinstance(data, str | SecretStr):
            raise ValueError(
                "a database URL is not a DatabaseConfig: write DatabaseConfig.from_url(url) "
                "(or databases_from_urls(env.database) for all of them)."
            )
        return data

    @field_validator("port", mode="before")
    @classmethod
    def _port(cls, value: Any) -> Any:
        # Never echoes the value: a password may stand where a port is read.
        if isinstance(value, str) and "," not in value:
            value = value.strip()
            if not (value.isascii() and value.isdigit()):
                raise ValueError("must be a port number (1-65535)")
            value = int(value)
        if isinstance(value, str):
            try:
                return port_list("port", value)
            except DatabaseURLError:
                raise ValueError("must be ports (1-65535) separated by ','") from None
        if isinstance(value, int) and not isinstance(value, bool) and not 1 <= value <= 65535:
            raise ValueError("must be a port number (1-65535)")
        return value

    @property
    def servers(self) -> list[tuple[str, int | None]]:
        """``(host, port)`` of each server: one, or several for a multi-host PostgreSQL URL."""
        return server_list(self.host, self.port)

    @model_validator(mode="after")
    def _check_combinations(self) -> Self:
        family = self.family
        self._check_servers(family)
        if family in {"postgresql", "mysql", "oracle"} and not self.name:
            raise ValueError(f"{self.redacted_url}: a {family} database needs a name.")
        if self.pool is not False:
            self._check_pool(family)
        if self.pooler is not None:
            self._check_pooler(family)
        if self.replica_of is not None and self.apps:
            raise ValueError(
                f"{self.redacted_url}: a replica serves the apps of its primary "
                f"{self.replica_of!r}; remove apps={list(self.apps)!r} from the replica."
            )
        replica_only = self.replica_reads.given()
        if self.replica_of is None and replica_only:
            raise ValueError(
                f"{self.redacted_url}: {', '.join(replica_only)} only apply to a replica; "
                "add replica_of='<primary alias>'."
            )
        if self.copy_of is not None and (self.replica_of is not None or self.apps):
            raise ValueError(
                f"{self.redacted_url}: a copy holds the apps of {self.copy_of!r}; remove "
                + ("replica_of" if self.replica_of is not None else f"apps={list(self.apps)!r}")
                + " from it."
            )
        if self.replica_of is not None and self.read_only:
            raise ValueError(
                f"{self.redacted_url}: a replica is read-only by nature; remove read_only=True."
            )
        return self

    def _check_servers(self, family: str | None) -> None:
        hosts = self.host.split(",")
        ports = str(self.port).split(",") if self.port is not None else [""]
        if len(hosts) == 1 and len(ports) == 1:
            return
        if family not in {"postgresql", None}:
            raise ValueError(
                f"{self.redacted_url}: several hosts or ports are a PostgreSQL (libpq) feature; "
                f"a {family} database has one host and one port."
            )
        if len(ports) not in {1, len(hosts)}:
            raise ValueError(
                f"{self.redacted_url}: {len(hosts)} hosts but {len(ports)} ports; give one port "
                "for every host, or one per host in the same order (h1:5432,h2:5433)."
            )

    def _check_pooler(self, family: str | None) -> None:
        where = self.redacted_url
        if family != "postgresql":
            raise ValueError(f"{where}: pooler is for PostgreSQL poolers (PgBouncer) only.")
        explicit_cursors = "disable_server_side_cursors" in self.model_fields_set
        if (
            self.pooler == "transaction"
            and explicit_cursors
            and not self.disable_server_side_cursors
        ):
            raise ValueError(
                f"{where}: pooler='transaction' needs server-side cursors off (a cursor lives on "
                "one server connection, the next fetch may run on another); remove "
                "disable_server_side_cursors=false."
            )
        if self.pooler == "transaction" and self.options.get("prepare_threshold") is not None:
            raise ValueError(
                f"{where}: pooler='transaction' needs server-side prepared statements off (a "
                "statement is prepared on one server connection, the next execution may run on "
                "another, or another client's statement of the same name); remove "
                f"prepare_threshold={self.options['prepare_threshold']!r} from its options."
            )

    def _check_pool(self, family: str | None) -> None:
        where = self.redacted_url
        if family != "postgresql":
            raise ValueError(f"{where}: pool is supported by PostgreSQL (psycopg 3) only.")
        if self.conn_max_age != 0:
            raise ValueError(
                f"{where}: pool cannot be combined with conn_max_age={self.conn_max_age}; the pool "
                "keeps connections itself. Remove conn_max_age (it must stay 0)."
            )
        if importlib.util.find_spec("psycopg_pool") is None:
            raise ValueError(
                f"{where}: pool needs the psycopg-pool package: pip install 'django-cfg[postgres]'."
            )

    @property
    def family(self) -> str | None:
        """'postgresql', 'mysql', 'sqlite' or 'oracle' for Django's backends, else None."""
        return engine_family(self.engine)

    @property
    def scheme(self) -> str:
        """The URL scheme of this engine (the ENGINE itself for unregistered engines)."""
        return next(
            (scheme for scheme, engine in ENGINES.items() if engine == self.engine), self.engine
        )

    @property
    def redacted_url(self) -> str:
        """This database as a URL with the password replaced by ``***``: safe to print or log."""
        if self.family == "sqlite":
            return (
                f"{self.scheme}://"
                if self.name == MEMORY
                else f"{self.scheme}:///{quoted_for_message(self.name, '/:~')}"
            )
        return redacted_url(
            self.scheme, self.user, self.password is not None, self.host, self.port, self.name
        )

    def __str__(self) -> str:
        return self.redacted_url

    @property
    def replica_reads(self) -> ReplicaReads:
        """Its share of its primary's reads and its lag bounds (replicas only)."""
        return ReplicaReads(self.read_weight, self.max_lag_seconds, self.max_lag_bytes)

    def role_setting(self) -> dict[str, Any]:
        """This database's DATABASE_ROLES entry: apps, primary (for replicas), weight, lag
        bounds, read-only, copy (empty for a plain primary)."""
        role: dict[str, Any] = {}
        if self.apps:
            role["apps"] = list(self.apps)
        if self.replica_of is not None:
            role["replica_of"] = self.replica_of
            role.update(self.replica_reads.role())
        if self.read_only:
            role["read_only"] = True
        elif self.replica_of is None and "replica_of" in self.model_fields_set:
            role["replica_of"] = None  # declared a primary (a replica's name is not a role)
        if self.copy_of is not None:
            role["copy_of"] = self.copy_of
        return role

    def to_django(self, base_dir: Path | str | None = None) -> dict[str, Any]:
        """The ``DATABASES[alias]`` dict Django expects.

        A relative SQLite path is resolved against ``base_dir`` (``DjangoConfig`` passes the
        project's base directory; without one, the current directory) and its folder is created.
        """
        options = {
            key: value.get_secret_value() if isinstance(value, SecretStr) else value
            for key, value in self.options.items()
        }
        if self.replica_of is not None and self.family in {"postgresql", "mysql"}:
            options.setdefault("connect_timeout", REPLICA_DEFAULTS.connect_timeout)
        for key, value in DRIVER_DEFAULTS.get(self.family or "", {}).items():
            if not (self.read_only and key == "transaction_mode"):  # no write lock to take
                options.setdefault(key, value)
        if self.pool is not False:
            options["pool"] = _bounded_pool(self.pool, options.get("connect_timeout"))
        if self.read_only and self.pooler != "transaction":
            # Behind a transaction pooler no startup option reaches the server (PgBouncer refuses
            # ``options``, or drops it): read-only is enforced per transaction at run time.
            _make_read_only(options, self.family)
        test = dict(self.test)
        engine = self.engine
        if self.replica_of is not None:
            test.setdefault("MIRROR", self.replica_of)
            engine = replica_engine(self.engine)
        settings: dict[str, Any] = {
            "ENGINE": engine,
            "NAME": self._resolved_name(base_dir),
            "USER": self.user,
            "PASSWORD": self.password.get_secret_value() if self.password is not None else "",
            "HOST": self.host,
            "PORT": str(self.port) if self.port is not None else "",
            "OPTIONS": options,
            "CONN_MAX_AGE": self.conn_max_age,
            "CONN_HEALTH_CHECKS": self.conn_health_checks
            or (self.pool is not False and "conn_health_checks" not in self.model_fields_set),
            "ATOMIC_REQUESTS": self.atomic_requests,
            "AUTOCOMMIT": self.autocommit,
            "TIME_ZONE": self.time_zone,
            "TEST": test,
        }
        if self.disable_server_side_cursors or self.pooler == "transaction":
            settings["DISABLE_SERVER_SIDE_CURSORS"] = True
        if self.pooler == "transaction":
            options["prepare_threshold"] = None  # psycopg's "never prepare" (its default is 5)
        if self.pooler is not None:
            settings[POOLER_KEY] = self.pooler
        return settings

    def _resolved_name(self, base_dir: Path | str | None) -> str:
        if self.family != "sqlite" or not names_a_file(self.name):
            return self.name
        try:
            path = Path(self.name).expanduser()
        except RuntimeError:  # '~user' naming no user, or no home directory known
            raise DatabaseURLError(
                f"{self.redacted_url}: the file path starts with '~' but that home directory is "
                "unknown; write the path without '~'."
            ) from None
        if not path.is_absolute():
            path = Path(base_dir if base_dir is not None else Path.cwd()) / path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (OSError, ValueError, RecursionError) as error:  # RecursionError: 1000+ folders deep
            reason = getattr(error, "strerror", None) or type(error).__name__
            raise DatabaseURLError(
                f"{self.redacted_url}: cannot create the folder of the SQLite file ({reason})."
            ) from error
        return str(path)


def _bounded_pool(pool: bool | dict[str, Any], connect_timeout: Any) -> dict[str, Any]:
    """psycopg_pool's arguments, with ``timeout`` (how long a request waits for a connection
    while none is free or the server is being reconnected; psycopg_pool's default is 30 s) the
    connect timeout unless given. (Django passes ``check`` itself: ``CONN_HEALTH_CHECKS``.)"""
    arguments = {} if pool is True else dict(pool or {})
    seconds = connect_timeout if isinstance(connect_timeout, (int, float)) else None
    arguments.setdefault("timeout", seconds or PRIMARY_CONNECT_TIMEOUT)
    return arguments
