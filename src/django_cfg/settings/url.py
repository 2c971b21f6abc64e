"""Database URLs, parsed into the fields of a ``DatabaseConfig``.

    DatabaseConfig.from_url("postgresql://app:s%40cret@db:5432/main?sslmode=require&conn_max_age=60")
    DatabaseConfig.from_url("sqlite:///db/default.sqlite3")     # relative to the project's base dir
    DatabaseConfig.from_url("sqlite:////var/lib/app/db.sqlite3")  # absolute
    register_scheme("cockroach", "django_cockroachdb")          # any third-party ENGINE

Rules, in the order they are applied:

- ``scheme://user:password@host:port/name?key=value``; user, password, host and name are
  percent-decoded, so a password ``p@ss#1`` is written ``p%40ss%231``. An unencoded ``@``, ``#``,
  ``/`` or ``?`` in the credentials is rejected with that hint instead of being guessed at: any
  ``@`` after the first ``/``, ``?`` or ``#`` makes the URL ambiguous. Only ASCII digits make a
  port.
- Hosts keep their case; ``[::1]`` is an IPv6 host; ``%2Fvar%2Frun%2Fpostgresql`` (or
  ``?host=/var/run/postgresql`` on PostgreSQL) is a unix-socket directory.
- PostgreSQL takes several hosts, as libpq does: ``postgresql://app@h1:5432,h2:5433/db?
  target_session_attrs=read-write&load_balance_hosts=random`` gives HOST ``h1,h2`` and PORT
  ``5432,5433`` (one port for every host when they share it), which libpq tries in turn (or in
  random order) until one has the wanted role.
- Query keys that Django reads itself (``conn_max_age``, ``conn_health_checks``,
  ``atomic_requests``, ``autocommit``, ``disable_server_side_cursors``, ``time_zone``, ``pool``,
  ``pool_<psycopg-pool argument>``) and ``pooler`` (``session``/``transaction``: a pooler such
  as PgBouncer is in between, see ``settings/pooler.py``) become ``DatabaseConfig`` fields; every
  other key is a driver option, converted to the type its driver expects (see
  ``DRIVER_OPTIONS``). An unknown key on a known engine is an error (a typo would otherwise
  surface only at the first connection); pass unusual options as
  ``DatabaseConfig.from_url(url, options={...})``.

No error raised here ever contains the password, whatever the URL: messages name the part at fault
by its position and kind. Once the credentials are known to end at the last ``@``, they show the
URL with the password replaced by ``***``; when that split is ambiguous, they say so and show only
what follows the last ``@`` (``postgresql://***@db/main``). A value in the query is echoed only
when the query has no ``password``/``sslpassword`` key (an unencoded ``&`` in one would spill it
into the next parameter). Every failure is a ``DatabaseURLError`` (a ``ValueError``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NamedTuple
from urllib.parse import quote, unquote, unquote_plus

from pydantic import SecretStr

from django_cfg.settings.config_errors import SettingsError

__all__ = [
    "DRIVER_OPTIONS",
    "ENGINES",
    "DatabaseURLError",
    "NamedDatabaseURL",
    "engine_family",
    "parse_database_url",
    "port_list",
    "redacted_url",
    "register_scheme",
    "server_list",
    "shown_servers",
]

ENGINES: dict[str, str] = {
    "sqlite": "django.db.backends.sqlite3",
    "spatialite": "django.contrib.gis.db.backends.spatialite",
    "postgresql": "django.db.backends.postgresql",
    "postgres": "django.db.backends.postgresql",
    "pgsql": "django.db.backends.postgresql",
    "postgis": "django.contrib.gis.db.backends.postgis",
    "mysql": "django.db.backends.mysql",
    "mariadb": "django.db.backends.mysql",
    "mysqlgis": "django.contrib.gis.db.backends.mysql",
    "oracle": "django.db.backends.oracle",
    "oraclegis": "django.contrib.gis.db.backends.oracle",
}
"""URL scheme -> Django ENGINE (the first scheme of an engine is its canonical one).

Extend it with ``register_scheme``."""

_FAMILIES = {
    "sqlite3": "sqlite",
    "spatialite": "sqlite",
    "postgresql": "postgresql",
    "postgis": "postgresql",
    "mysql": "mysql",
    "oracle": "oracle",
}


class DatabaseURLError(ValueError, SettingsError):
    """A database URL that cannot be read. The message never contains the password."""


class NamedDatabaseURL(SecretStr):
    """A database URL, kept secret, that knows the name it was read under (``url_blog``).

    ``DatabaseURLs`` holds its URLs as these, so that
    ``DatabaseConfig.from_url(env.database.url_blog)`` can say which URL (and so which variable) a
    ``DatabaseURLError`` is about.
    """

    def __init__(self, secret_value: str, key: str, explicit: bool = True) -> None:
        super().__init__(secret_value)
        self.key = key
        self.explicit = explicit
        """False for a default no source set (production refuses those: production_settings)."""

    def __eq__(self, other: object) -> bool:  # equal to a plain SecretStr of the same URL
        return isinstance(other, SecretStr) and self.get_secret_value() == other.get_secret_value()

    __hash__ = SecretStr.__hash__

    @property
    def described(self) -> str:
        """``database URL url_blog (e.g. variable DATABASE__URL_BLOG)``: for messages."""
        return f"database URL {self.key} (e.g. variable DATABASE__{self.key.upper()})"


def register_scheme(scheme: str, engine: str) -> None:
    """Map a URL scheme to an ENGINE: ``register_scheme("cockroach", "django_cockroachdb")``."""
    if not scheme or not scheme.replace("+", "").replace("-", "").isalnum():
        raise ValueError(f"URL scheme {scheme!r} must be letters, digits, '+' or '-'.")
    if not engine:
        raise ValueError(f"register_scheme({scheme!r}, ...) needs a Django ENGINE path.")
    ENGINES[scheme.lower()] = engine


REPLICA_ENGINES = {"django.db.backends.postgresql": "django_cfg.backends.replica_postgresql"}
"""Backends that add failover (to the primary) to a replica's connection."""


def replica_engine(engine: str) -> str:
    """The failover backend for a replica of this ENGINE (the ENGINE itself if there is none)."""
    return REPLICA_ENGINES.get(engine, engine)


def base_engine(engine: str) -> str:
    """The ENGINE a failover backend extends (any other ENGINE unchanged)."""
    return next((base for base, ours in REPLICA_ENGINES.items() if ours == engine), engine)


def engine_family(engine: str) -> str | None:
    """'postgresql', 'mysql', 'sqlite', 'oracle' for Django's backends (GIS included), else None."""
    if not engine.startswith("django."):
        return None
    return _FAMILIES.get(engine.rsplit(".", 1)[-1])


# --- typed driver options ---------------------------------------------------------------------

Converter = Callable[[str, str], Any]


def _int(key: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise DatabaseURLError(f"option {key!r} must be a whole number") from None


def _float(key: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise DatabaseURLError(f"option {key!r} must be a number") from None


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _bool(key: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise DatabaseURLError(f"option {key!r} must be true or false")


def _str(key: str, raw: str) -> str:
    return raw


def _secret(key: str, raw: str) -> SecretStr:
    return SecretStr(raw)


def _choice(*choices: str, case: Callable[[str], str] = str.lower) -> Converter:
    def convert(key: str, raw: str) -> str:
        if case(raw) not in choices:
            raise DatabaseURLError(f"option {key!r} must be one of {', '.join(choices)}")
        return case(raw)

    return convert


def _pg_isolation_level(key: str, raw: str) -> int:
    # Values of psycopg.IsolationLevel, which Django's PostgreSQL backend expects.
    levels = {"read uncommitted": 1, "read committed": 2, "repeatable read": 3, "serializable": 4}
    name = raw.strip().lower().replace("_", " ")
    if name not in levels:
        raise DatabaseURLError(f"option {key!r} must be one of {', '.join(levels)}")
    return levels[name]


DRIVER_OPTIONS: dict[str, dict[str, Converter]] = {
    "postgresql": {
        "sslmode": _choice("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
        "connect_timeout": _int,
        "options": _str,
        "application_name": _str,
        "fallback_application_name": _str,
        "client_encoding": _str,
        "sslrootcert": _str,
        "sslcert": _str,
        "sslkey": _str,
        "sslcrl": _str,
        "sslpassword": _secret,
        "passfile": _str,
        "service": _str,
        "gssencmode": _choice("disable", "prefer", "require"),
        "channel_binding": _choice("disable", "prefer", "require"),
        "target_session_attrs": _choice(
            "any", "read-write", "read-only", "primary", "standby", "prefer-standby"
        ),
        "load_balance_hosts": _choice("disable", "random"),
        "keepalives": _int,
        "keepalives_idle": _int,
        "keepalives_interval": _int,
        "keepalives_count": _int,
        "tcp_user_timeout": _int,
        "krbsrvname": _str,
        "isolation_level": _pg_isolation_level,
        "server_side_binding": _bool,
        "assume_role": _str,
    },
    "mysql": {
        "charset": _str,
        "collation": _str,
        "connect_timeout": _int,
        "read_timeout": _int,
        "write_timeout": _int,
        "init_command": _str,
        "read_default_file": _str,
        "read_default_group": _str,
        "unix_socket": _str,
        "local_infile": _bool,
        "client_flag": _int,
        "ssl_mode": _choice(
            "DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY", case=str.upper
        ),
        "isolation_level": _choice(
            "read uncommitted", "read committed", "repeatable read", "serializable"
        ),
    },
    "sqlite": {
        "timeout": _float,
        "init_command": _str,
        "transaction_mode": _choice("DEFERRED", "IMMEDIATE", "EXCLUSIVE", case=str.upper),
    },
    "oracle": {
        "threaded": _bool,
        "use_returning_into": _bool,
    },
}
"""Known driver options per engine family and the type each is converted to."""

PRIMARY_CONNECT_TIMEOUT = 5
"""Seconds a connection to a primary may take: a server that accepts TCP and never answers
(a host lost mid-failover) fails a write in this time instead of libpq's ~130 s. Replicas get
``ReplicaOptions.connect_timeout`` (2 s) instead, since their reads can go elsewhere."""

DRIVER_DEFAULTS: dict[str, dict[str, Any]] = {
    "postgresql": {"connect_timeout": PRIMARY_CONNECT_TIMEOUT},
    "mysql": {"connect_timeout": PRIMARY_CONNECT_TIMEOUT},
    # BEGIN IMMEDIATE (Django >= 5.1): atomic() takes SQLite's write lock when it starts, so
    # concurrent writers queue for up to "timeout" instead of deadlocking on a read lock's
    # upgrade, which SQLite answers at once with "database is locked". Queued writers poll the
    # lock, so one can lose for longer than Python's default 5 s under load: 20 s gave 0 errors
    # where 5 s gave up to 5 in 1,600 operations (docs/configuration.md,
    # tests/support/sqlite_load.py).
    "sqlite": {"transaction_mode": "IMMEDIATE", "timeout": 20.0},
}
"""Driver options a database gets unless its URL or ``options`` set them (``transaction_mode``
only where writes are allowed: a read-only database takes no write lock; a replica's
``connect_timeout`` is ``ReplicaOptions.connect_timeout``)."""

_MYSQL_SSL_KEYS = {"ssl_ca": "ca", "ssl_cert": "cert", "ssl_key": "key", "ssl_capath": "capath"}

_CONN_MAX_AGE_UNLIMITED = {"none", "unlimited", "persistent"}


def port_list(key: str, raw: str) -> str:
    """``5432,5433``: one port per host (an empty one is the default port), as libpq reads it."""
    ports = [piece.strip() for piece in raw.split(",")]
    for piece in ports:
        if piece and not (piece.isascii() and piece.isdigit() and 1 <= int(piece) <= 65535):
            raise DatabaseURLError(f"option {key!r} must be ports (1-65535) separated by ','")
    return ",".join(ports)


def _conn_max_age(key: str, raw: str) -> int | None:
    if raw.strip().lower() in _CONN_MAX_AGE_UNLIMITED:
        return None
    value = _int(key, raw)
    if value < 0:
        raise DatabaseURLError(f"option {key!r} must be 0 or more seconds, or 'none' (unlimited)")
    return value


DJANGO_OPTIONS: dict[str, Converter] = {
    "conn_max_age": _conn_max_age,
    "conn_health_checks": _bool,
    "atomic_requests": _bool,
    "autocommit": _bool,
    "disable_server_side_cursors": _bool,
    "time_zone": _str,
}
"""Query keys that become top-level ``DatabaseConfig`` fields (Django's own knobs)."""

POOL_OPTIONS: dict[str, Converter] = {
    "min_size": _int,
    "max_size": _int,
    "timeout": _float,
    "max_waiting": _int,
    "max_lifetime": _float,
    "max_idle": _float,
    "reconnect_timeout": _float,
    "num_workers": _int,
}
"""``pool_<name>`` query keys: arguments of psycopg_pool.ConnectionPool (PostgreSQL only)."""


# --- parsing ----------------------------------------------------------------------------------


def known_scheme(url: str, known: Mapping[str, Any], kind: str) -> tuple[str, str]:
    """``url``'s scheme (lower-cased) and the rest after ``://``; ``DatabaseURLError`` naming the
    ``known`` schemes when it has none of them (``kind``: "cache", "e-mail")."""
    scheme, separator, rest = url.partition("://")
    scheme = scheme.lower()
    if separator and scheme in known:
        return scheme, rest
    names = ", ".join(f"{name}://" for name in known)
    shown = (
        f"scheme {scheme!r}"
        if separator and scheme.replace("+", "").isalnum()
        else "no known scheme"
    )
    raise DatabaseURLError(
        f"not {'an' if kind[0] in 'aeiou' else 'a'} {kind} URL ({shown}); write one of: {names}."
    )


def quoted_for_message(text: str, safe: str = "") -> str:
    """``text`` percent-encoded for a message; never fails, whatever the characters."""
    return quote(text.encode("utf-8", "surrogatepass"), safe=safe)


def server_list(host: str, port: int | str | None) -> list[tuple[str, int | None]]:
    """``(host, port)`` of each server a HOST/PORT pair names: ``("h1,h2", "5432,5433")`` or
    ``("h1,h2", 5432)`` (one port for every host) -> ``[("h1", 5432), ("h2", 5433)]``."""
    hosts = host.split(",") if "," in host else [host]
    text = "" if port is None else str(port)
    ports = [
        int(p) if p.strip().isascii() and p.strip().isdigit() else None for p in text.split(",")
    ]
    if len(ports) == 1:
        ports *= len(hosts)
    # Counts that differ (DatabaseConfig refuses them) are shown as they are, not truncated.
    hosts += [""] * (len(ports) - len(hosts))
    ports += [None] * (len(hosts) - len(ports))
    return list(zip(hosts, ports, strict=True))


def shown_servers(host: str, port: int | str | None) -> str:
    """``h1:5432,[::1]:5433``: the servers of a HOST/PORT pair as a URL writes them."""
    return ",".join(
        (f"[{quoted_for_message(h, ':')}]" if ":" in h else quoted_for_message(h))
        + (f":{p}" if p is not None else "")
        for h, p in server_list(host, port)
    )


def redacted_url(
    scheme: str, user: str, has_password: bool, host: str, port: int | str | None, name: str
) -> str:
    """The URL for messages and status output, with the password shown as ``***``."""
    credentials = quoted_for_message(user)
    if has_password:
        credentials += ":***"
    if credentials:
        credentials += "@"
    servers = shown_servers(host, port)
    return f"{scheme}://{credentials}{servers}/{quoted_for_message(name, '/:')}"


_SCHEME = r"[A-Za-z][A-Za-z0-9+.-]{0,29}"  # compiled by the first unknown scheme (re's cache)
_MAX_PATH_COMPONENT_BYTES = 255  # NAME_MAX on Linux, macOS and Windows file systems
_MAX_PATH_BYTES = 4096  # PATH_MAX on Linux


def parse_database_url(url: str) -> dict[str, Any]:
    """Read ``url`` into ``DatabaseConfig`` field values (engine, name, user, password, ...)."""
    if not isinstance(url, str):
        raise DatabaseURLError(f"a database URL must be text, not {type(url).__name__}.")
    url = url.strip()
    _check_characters(url)
    scheme, separator, rest = url.partition("://")
    if not separator:
        raise DatabaseURLError(
            "not a database URL: expected '<scheme>://...', "
            "e.g. 'postgresql://user:password@host:5432/name' or 'sqlite:///db/default.sqlite3'."
        )
    if scheme.lower() not in ENGINES:
        raise DatabaseURLError(_unknown_scheme(scheme))
    scheme = scheme.lower()
    engine = ENGINES[scheme]
    family = engine_family(engine)
    if family == "sqlite":
        return _parse_sqlite(scheme, engine, rest)
    return _parse_server(scheme, engine, family, rest)


def _first_unsendable(url: str) -> int:
    """The index of the first NUL or lone surrogate in ``url``, or -1. A scan, not a regular
    expression: compiling one with a surrogate range cost every startup ~2M instructions."""
    if url.isascii():
        return url.find("\x00")
    for index, char in enumerate(url):
        if char == "\x00" or "\ud800" <= char <= "\udfff":
            return index
    return -1


def _check_characters(url: str) -> None:
    # Named by position only: the character may sit in the password.
    index = _first_unsendable(url)
    if index >= 0:
        kind = (
            "a NUL character"
            if url[index] == "\x00"
            else "a lone surrogate (text decoded from bytes that are not UTF-8, e.g. a variable "
            "set with another encoding)"
        )
        raise DatabaseURLError(
            f"the database URL contains {kind} at character {index + 1}, which no database "
            "driver accepts; percent-encode the intended bytes (e.g. %C3%A9 for 'é')."
        )


def _unknown_scheme(scheme: str) -> str:
    known = ", ".join(sorted(ENGINES))
    hint = "Register another with django_cfg.register_scheme(scheme, engine)."
    if not re.fullmatch(_SCHEME, scheme):
        # Not echoed: the text before the first '://' may be anything, a password included.
        return (
            f"the database URL does not start with a known scheme: its first {len(scheme)} "
            "characters, before '://', are not letters, digits, '+', '-' or '.'. Write it as "
            f"'<scheme>://...' with one of: {known}."
        )
    close = difflib.get_close_matches(scheme.lower(), ENGINES, n=1)
    suggestion = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown database URL scheme {scheme!r}{suggestion}; known schemes: {known}. {hint}"


def _parse_sqlite(scheme: str, engine: str, rest: str) -> dict[str, Any]:
    path, _, query = rest.partition("?")
    if "#" in rest:
        raise DatabaseURLError(f"{scheme} URL: percent-encode '#' in the file path as %23.")
    if path in {"", ":memory:", "/:memory:"}:
        name = ":memory:"
    elif not path.startswith("/"):
        raise DatabaseURLError(
            f"{scheme} URLs have no host: write {scheme}:///relative/path.sqlite3 "
            f"(three slashes) or {scheme}:////absolute/path.sqlite3 (four)."
        )
    elif path == "/":
        raise DatabaseURLError(
            f"{scheme} URL has no file path: write {scheme}:///db/default.sqlite3, "
            f"or {scheme}:// for an in-memory database."
        )
    else:
        name = unquote(path[1:])
        _check_path_length(scheme, name)
    fields: dict[str, Any] = {"engine": engine, "name": name}
    where = f"{scheme}:///{quoted_for_message(name, '/:~')}"
    fields.update(_parse_query(query, "sqlite", where=where))
    return fields


def _check_path_length(scheme: str, name: str) -> None:
    if "\x00" in name:
        raise DatabaseURLError(f"{scheme} URL: the file path contains a NUL character (%00).")
    encoded = name.encode("utf-8", "surrogatepass")
    if len(encoded) > _MAX_PATH_BYTES:
        raise DatabaseURLError(
            f"{scheme} URL: the file path is {len(encoded)} bytes long; file systems allow at "
            f"most {_MAX_PATH_BYTES}."
        )
    for number, component in enumerate(encoded.split(b"/"), start=1):
        if len(component) > _MAX_PATH_COMPONENT_BYTES:
            raise DatabaseURLError(
                f"{scheme} URL: part {number} of the file path is {len(component)} bytes long; "
                f"file systems allow at most {_MAX_PATH_COMPONENT_BYTES} per folder or file name."
            )


_PERCENT_ENCODE_HINT = (
    "percent-encode '@', '/', '?', '#' in the user or password (%40, %2F, %3F, %23); "
    "an '@' in the database name or an option is written %40."
)


class ServerURL(NamedTuple):
    """The parts of ``scheme://user:password@host:port/path?query``, percent-decoded."""

    user: str
    password: str | None
    """None when the URL has no ``:`` in its credentials (no password at all)."""
    host: str
    port: int | str | None
    path: str
    """What follows the host's ``/``, decoded (a database name, a cache's table)."""
    query: str
    where: str
    """The URL as messages show it: the password as ``***``."""


def split_server_url(scheme: str, rest: str, one_host: str | None = None) -> ServerURL:
    """Split what follows ``scheme://``; ``one_host`` is the message refusing ``h1,h2`` (None:
    several hosts are allowed). Errors never hold the password (the rules atop this module)."""
    # Where the credentials end is known for sure only when every '@' comes before the first '/',
    # '?' and '#'. Until that is established, no part of the URL is echoed; after it, the host,
    # port, name and query are known not to hold the password, and the URL is shown as
    # redacted_url() renders it.
    last_at = rest.rfind("@")
    # What follows the last '@' cannot hold the password, whatever the password contains.
    after = quoted_for_message(rest[last_at + 1 :], _VISIBLE)
    shown = f"{scheme}://***@{after}" if last_at >= 0 else ""
    unsure = f"{shown}: " if shown else f"{scheme} URL: "
    cut = min(
        (i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest)
    )
    if last_at > cut:
        raise DatabaseURLError(
            f"{unsure}ambiguous URL: an '@' comes after a '/', '?' or '#' (character "
            f"{len(scheme) + 4 + cut}), so where the user and password end cannot be told; "
            + _PERCENT_ENCODE_HINT
        )
    if "#" in rest:
        raise DatabaseURLError(
            f"{unsure}the URL contains '#' (character {len(scheme) + 4 + rest.find('#')}): if it "
            "is part of the password or user, percent-encode it as %23; these URLs have no "
            "'#fragment'."
        )
    authority, tail = rest[:cut], rest[cut:]
    path, _, query = tail.partition("?")
    userinfo, at, hostport = authority.rpartition("@")
    if at and "@" in userinfo:
        raise DatabaseURLError(
            f"{unsure}ambiguous URL: more than one '@' before the host; percent-encode '@' in "
            "the user or password as %40."
        )
    raw_user, colon, raw_password = userinfo.partition(":")
    user, password = unquote(raw_user), unquote(raw_password)
    host, port = _parse_servers(unsure, hostport, one_host)
    name = unquote(path[1:]) if path.startswith("/") else ""
    for part, value in (("user", user), ("password", password), ("host", host), ("name", name)):
        if "\x00" in value:
            raise DatabaseURLError(
                f"{unsure}the {part} contains a NUL character (%00), which no driver or server "
                "accepts."
            )
    where = redacted_url(scheme, user, bool(colon), host, port, name)
    return ServerURL(user, password if colon else None, host, port, name, query, where)


def _parse_server(scheme: str, engine: str, family: str | None, rest: str) -> dict[str, Any]:
    one_host = (
        None
        if family == "postgresql"
        else "several hosts separated by ',' are a PostgreSQL (libpq) feature; "
        f"a {family or 'third-party'} database URL names one host."
    )
    url = split_server_url(scheme, rest, one_host)
    where = url.where
    fields: dict[str, Any] = {"engine": engine, "name": url.path, "user": url.user}
    fields["host"] = url.host
    if url.password is not None:
        fields["password"] = SecretStr(url.password)
    if url.port is not None:
        fields["port"] = url.port
    for key, value in _parse_query(url.query, family, where=where).items():
        if key in {"host", "port", "user", "password"} and fields.get(key):
            raise DatabaseURLError(f"{where}: {key!r} is given both in the URL and in its query.")
        fields[key] = value
    if not fields["name"]:
        raise DatabaseURLError(
            f"{where}: missing database name; add '/<name>' after the host, "
            f"e.g. {scheme}://host:5432/mydb."
        )
    return fields


_VISIBLE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")
"""Characters shown as they are in messages (every other one is percent-encoded)."""


def _parse_servers(
    unsure: str, hostport: str, one_host: str | None
) -> tuple[str, int | str | None]:
    """``h1:5432,h2:5433`` -> ``("h1,h2", "5432,5433")``; one server -> ``(host, port)``."""
    if "," not in hostport:
        return _parse_hostport(unsure, hostport)
    if one_host is not None:
        raise DatabaseURLError(f"{unsure}{one_host}")
    servers = []
    for number, item in enumerate(hostport.split(","), start=1):
        try:
            servers.append(_parse_hostport(unsure, item))
        except DatabaseURLError as error:
            raise DatabaseURLError(
                f"{str(error).rstrip('.')} (server {number} of the host list)."
            ) from None
        if not servers[-1][0]:
            raise DatabaseURLError(
                f"{unsure}server {number} of the host list has no host; write h1:5432,h2:5432."
            )
    ports = {port for _, port in servers}
    host = ",".join(host for host, _ in servers)
    if len(ports) == 1:
        return host, ports.pop()  # one port (or none) for every host
    return host, ",".join("" if port is None else str(port) for _, port in servers)


def _parse_hostport(unsure: str, hostport: str) -> tuple[str, int | None]:
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise DatabaseURLError(f"{unsure}the IPv6 host is missing its closing ']'.")
        host, port_text = unquote(hostport[1:end]), hostport[end + 1 :]
        if port_text and not port_text.startswith(":"):
            raise DatabaseURLError(f"{unsure}expected ':<port>' after the IPv6 host.")
        port_text = port_text[1:]
    else:
        raw_host, _, port_text = hostport.partition(":")
        host = unquote(raw_host)
    if not port_text:
        return host, None
    # Only ASCII digits: str.isdigit() also accepts '²' and full-width digits, which int() reads.
    if not (port_text.isascii() and port_text.isdigit()):
        # Not echoed: without an '@', a password may stand where the port is read.
        raise DatabaseURLError(
            f"{unsure}the port after the host is not a number (ASCII digits 0-9). If the password "
            "contains '/', '?' or '#', percent-encode them (%2F, %3F, %23)."
        )
    port = int(port_text)
    if not 1 <= port <= 65535:
        # Not echoed either: an all-digit password may stand there (postgresql://app:987654/db).
        raise DatabaseURLError(f"{unsure}the port after the host is out of range (1-65535).")
    return host, port


class QueryItem(NamedTuple):
    """One ``key=value`` of a URL's query, decoded, and how messages may show it."""

    key: str
    value: str
    shown_key: str
    """``'sslmode'``, or ``number 3`` when the query may hold a password (never echoed)."""
    echo: bool
    where: str

    @contextmanager
    def converting(self) -> Iterator[None]:
        """Adds where (and, when safe, the value) to a ``DatabaseURLError`` raised inside."""
        try:
            yield
        except DatabaseURLError as error:
            got = f"; got {quoted_for_message(self.value, _VISIBLE)!r}" if self.echo else ""
            raise DatabaseURLError(f"{self.where}: {str(error).rstrip('.')}{got}.") from None


def query_items(query: str, where: str) -> list[QueryItem]:
    """The query's items, each key once. A password given in the query (``password=``,
    ``sslpassword=``) with an unencoded ``&`` spills into the following items: then keys and
    values are named by position, never echoed."""
    echo = "password" not in unquote_plus(query).lower()
    seen: set[str] = set()
    items = []
    for number, piece in enumerate(query.split("&") if query else [], start=1):
        if not piece:
            continue
        raw_key, equals, raw_value = piece.partition("=")
        if not equals:
            raise DatabaseURLError(
                f"{where}: query parameter {number} has no '=value'. If a password contains '&', "
                "percent-encode it as %26."
            )
        key, value = unquote_plus(raw_key).lower(), unquote_plus(raw_value)
        shown_key = repr(key) if echo else f"number {number}"
        if key in seen:
            raise DatabaseURLError(f"{where}: query parameter {shown_key} is given twice.")
        seen.add(key)
        items.append(QueryItem(key, value, shown_key, echo, where))
    return items


def _parse_query(query: str, family: str | None, *, where: str) -> dict[str, Any]:
    """Split the query into DatabaseConfig fields, ``options`` and ``pool``."""
    if not query:
        return {}
    fields: dict[str, Any] = {}
    options: dict[str, Any] = {}
    pool: dict[str, Any] = {}
    known = DRIVER_OPTIONS.get(family or "")
    for item in query_items(query, where):
        with item.converting():
            _place_option(
                item.key, item.value, family, known, fields, options, pool, item.shown_key
            )
    if pool:
        if fields.get("pool") is False:
            raise DatabaseURLError(f"{where}: pool_* options are given together with pool=false.")
        fields["pool"] = pool  # pool_* options imply pool=true
    if options:
        fields["options"] = options
    return fields


def _place_option(
    key: str,
    value: str,
    family: str | None,
    known: Mapping[str, Converter] | None,
    fields: dict[str, Any],
    options: dict[str, Any],
    pool: dict[str, Any],
    shown_key: str,
) -> None:
    if key in DJANGO_OPTIONS:
        fields[key] = DJANGO_OPTIONS[key](key, value)
    elif key == "pool":
        fields["pool"] = _bool(key, value)
    elif key == "pooler":
        fields["pooler"] = _choice("session", "transaction")(key, value)
    elif key.startswith("pool_") and key[5:] in POOL_OPTIONS:
        pool[key[5:]] = POOL_OPTIONS[key[5:]](key, value)
    elif family == "postgresql" and key in {"host", "user", "dbname"}:
        fields["name" if key == "dbname" else key] = value
    elif family == "postgresql" and key == "port":
        fields["port"] = port_list(key, value) if "," in value else _int(key, value)
    elif family == "postgresql" and key == "password":
        fields["password"] = SecretStr(value)
    elif family == "mysql" and key in _MYSQL_SSL_KEYS:
        options.setdefault("ssl", {})[_MYSQL_SSL_KEYS[key]] = value
    elif known is None:
        options[key] = value  # a third-party engine: its options pass through as text
    elif key in known:
        options[key] = known[key](key, value)
    else:
        raise DatabaseURLError(
            f"unknown option {shown_key} for a {family} database. Known options: "
            f"{', '.join(sorted([*DJANGO_OPTIONS, 'pool', 'pooler', *known]))}. "
            "Pass anything else as DatabaseConfig.from_url(url, options={...})."
        )
