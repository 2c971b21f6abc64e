"""A new tenant's database cloned from a migrated template instead of migrated (issue 23).

    clone_template(registry, alias)   # True: alias's database is a copy of a current template
    refresh_template(registry, alias) # the template := alias's just migrated database
    migrate_template(registry)        # migrate_all: a template left behind is migrated
    recorded_when_migrated()          # the django_migrations rows a full migrate leaves
    drop_staged(registry, alias)      # drop_tenant: what a killed creation staged, removed

The template is the tenant URL template filled with the name ``_template`` (no tenant can have
it: a tenant name starts with a letter or digit): ``tenants/_template.sqlite3``,
``t__template`` on PostgreSQL. It is used only when it is *current*: its ``django_migrations``
holds every row a full ``migrate`` records (every migration of the graph on disk) and no other,
and it was made from the migration files on disk now (a digest of each recorded migration's
file is stamped on it: a migration edited in place after the template was made changes no row);
else the tenant is migrated as before and the template is made again from it. A creation
makes the template on first need; ``migrate_all`` migrates an existing one with the tenants.

- SQLite: the template file is never written in place; it is replaced by a rename (a reader
  copies the old file or the new one, whole). The clone is a copy beside the tenant's file,
  linked to its name (never over an existing file). The stamp is a one-row table,
  ``django_cfg_template``, dropped from the copy before it is linked.
- PostgreSQL: ``CREATE DATABASE t_acme TEMPLATE t__template`` on the tenant's server. No
  connection to the template is kept open (PostgreSQL refuses the copy while one is: "source
  database is being accessed by other users"; the check reads its rows and closes). A copy that
  fails for that reason, or any other, falls back to ``CREATE DATABASE`` and migrating. The
  stamp is the template's comment (``COMMENT ON DATABASE``; a copy does not inherit it).
- MariaDB has no template databases: tenants are migrated (from the shared plan).

A tenant placed elsewhere (``--url``) is always migrated.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import sys
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connections

from django_cfg.runtime.added_databases import add_database, remove_database
from django_cfg.runtime.server_locks import file_lock, server_lock
from django_cfg.settings.database_config import DatabaseConfig
from django_cfg.settings.sqlite import names_a_file
from django_cfg.settings.tenant_names import (
    HASH_PLACEHOLDER,
    PLACEHOLDER,
    TEMPLATE_ALIAS,
    fill_template,
)
from django_cfg.tenants.production import refuse_production

__all__ = [
    "TEMPLATE_NAME",
    "Rows",
    "TemplateState",
    "clone_template",
    "drop_staged",
    "drop_template",
    "migrate_template",
    "recorded_when_migrated",
    "refresh_template",
    "sqlite_files",
    "sqlite_recorded",
]

TEMPLATE_NAME = "_template"
Key = tuple[str, str]
_CLONES = ("sqlite", "postgresql")


@dataclass(frozen=True)
class TemplateState:
    """What a template database holds: its ``django_migrations`` rows (None: no database, or
    no table) and the stamp of the migration files it was made from (None: none)."""

    recorded: frozenset[Key] | None
    stamp: str | None = None
    oid: int | None = None  # PostgreSQL: which database it is (a refresh makes a new one)


@dataclass(frozen=True)
class Rows:
    """The ``django_migrations`` rows a full ``migrate`` records on a tenant database (every
    migration of the graph on disk; a squashed one: the migrations it replaces, and its own
    row, which ``check_replacements`` records once they all are, even with nothing to
    apply), the rows it may also hold, and each migration's file digest (read when these rows
    were: a snapshot taken before migrating, so that a file edited meanwhile never stamps a
    template as made from its new content)."""

    required: frozenset[Key]
    allowed: frozenset[Key]
    files: Mapping[Key, str] = field(default_factory=dict, compare=False)

    def current(self, recorded: frozenset[Key] | None, *, exact: bool = True) -> bool:
        """Whether a database with ``recorded`` rows is migrated to the graph's leaves
        (``exact``: and has no row of a migration that is not on disk)."""
        if recorded is None or not self.required <= recorded:
            return False
        return not exact or recorded <= self.allowed

    def stamp(self, recorded: frozenset[Key]) -> str:
        """The digest of the migration files of ``recorded`` rows, as they were read (a row
        whose migration is not on disk counts by its name)."""
        lines = (
            f"{app}.{name}={self.files.get((app, name), '-')}" for app, name in sorted(recorded)
        )
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()

    def made_from_these_files(self, template: TemplateState) -> bool:
        """Whether ``template`` was stamped from the files its rows' migrations have now:
        False if one was edited in place since (same name, no new row), or it has no stamp."""
        recorded = template.recorded
        return recorded is not None and template.stamp == self.stamp(recorded)

    def copyable(self, template: TemplateState) -> bool:
        """Whether a copy of ``template`` is what Django's ``migrate`` makes of an empty
        database now: current, and made from these files."""
        return self.current(template.recorded) and self.made_from_these_files(template)

    def leave_as_it_is(self, template: TemplateState) -> bool:
        """Whether ``migrate_all`` leaves ``template`` as it is: copyable, or not there."""
        return template.recorded is None or self.copyable(template)


_LOADED_DIGEST = "__django_cfg_sha256__"


def _file_digest(migration: Any) -> str:
    """The sha256 of ``migration``'s file when this process first read it ("-" if its module
    has none: compared by name). Django's loader does not import a loaded migration module
    again: a process that loaded it before an edit in place runs the old code, so its digest
    stays the old one (kept on the module object), never the edited file's."""
    module = sys.modules.get(type(migration).__module__)
    path = getattr(module, "__file__", None)
    try:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else "-"
    except OSError:
        return "-"
    return str(vars(module).setdefault(_LOADED_DIGEST, digest)) if path else digest


def recorded_when_migrated(loader: Any = None) -> Rows:
    """The rows of a database migrated to the leaves of the migration graph on disk, and
    their migrations' file digests (``loader``: a ``MigrationLoader(None)`` at hand, else the
    migration files are read)."""
    from django.db.migrations.loader import MigrationLoader

    graph = (loader or MigrationLoader(None, ignore_no_migrations=True)).graph
    rows: set[Key] = set()
    for key, migration in graph.nodes.items():
        rows.update([*(migration.replaces or []), key])
    files = {key: _file_digest(migration) for key, migration in graph.nodes.items()}
    return Rows(frozenset(rows), frozenset(rows) | frozenset(graph.nodes), files)


def sqlite_recorded(path: str) -> frozenset[Key] | None:
    """The ``django_migrations`` rows of SQLite file ``path`` (one read-only query); None if
    the file or the table is missing."""
    try:
        db = sqlite3.connect(Path(path).absolute().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        return frozenset(db.execute("SELECT app, name FROM django_migrations").fetchall())
    except sqlite3.Error:
        return None
    finally:
        db.close()


STAMP_TABLE = "django_cfg_template"  # SQLite: the template's stamp (dropped from its copies)
_COMMENT = "django_cfg: the tenant template, made from migration files sha256 "  # PostgreSQL


def sqlite_template(path: str) -> TemplateState:
    """What the SQLite template ``path`` holds (one read-only connection)."""
    try:
        db = sqlite3.connect(Path(path).absolute().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error:
        return TemplateState(None)
    with closing(db):
        try:
            recorded = frozenset(db.execute("SELECT app, name FROM django_migrations").fetchall())
        except sqlite3.Error:
            return TemplateState(None)
        try:
            row = db.execute(f"SELECT migration_files_sha256 FROM {STAMP_TABLE}").fetchone()
        except sqlite3.Error:  # no stamp
            row = None
    return TemplateState(recorded, row[0] if row else None)


def _stamp_sqlite(path: str, rows: Rows) -> None:
    """Stamp SQLite template ``path`` (not yet renamed to its name) with its rows' files."""
    with closing(sqlite3.connect(path)) as db, db:
        recorded = frozenset(db.execute("SELECT app, name FROM django_migrations").fetchall())
        db.execute(f"CREATE TABLE IF NOT EXISTS {STAMP_TABLE} (migration_files_sha256 TEXT)")
        db.execute(f"DELETE FROM {STAMP_TABLE}")
        db.execute(f"INSERT INTO {STAMP_TABLE} VALUES (?)", [rows.stamp(recorded)])


def sqlite_files(registry: Any) -> dict[str, str]:
    """Tenant name -> its SQLite file, for every tenant whose database is the URL template's
    (one query of the tenants table, no ``DatabaseConfig`` per tenant); {} if the template is
    not a SQLite file. A tenant placed elsewhere (``--url``) is not in it."""
    marks = ("zq9tenantzq9", "zq9hashzq9")
    template = registry.template.replace(PLACEHOLDER, marks[0])
    database = DatabaseConfig.from_url(template.replace(HASH_PLACEHOLDER, marks[1]))
    if database.family != "sqlite" or not names_a_file(database.name):
        return {}
    path = Path(database.name).expanduser()
    base = getattr(settings, "BASE_DIR", None)
    pattern = str(path if path.is_absolute() else Path(base or Path.cwd()) / path)
    if pattern.count(marks[0]) != 1:
        return {}
    files = {}
    for name, url in _names_and_urls(registry):
        if not url:
            filled = pattern.replace(marks[0], name)
            files[name] = fill_template(filled.replace(marks[1], HASH_PLACEHOLDER), name)
    return files


def _names_and_urls(registry: Any) -> list[tuple[str, str]]:
    if registry.fixed is not None:
        return [(name, "") for name in sorted(registry.fixed)]
    from django.db import DEFAULT_DB_ALIAS

    from django_cfg.tenants.models import UNROUTABLE, Tenant

    rows = Tenant._default_manager.using(DEFAULT_DB_ALIAS).exclude(state__in=UNROUTABLE)
    return [(name, url or "") for name, url in rows.values_list("name", "url")]


def template_database(template_url: str) -> DatabaseConfig:
    """The template database of the tenant URL template ``template_url``."""
    return DatabaseConfig.from_url(fill_template(template_url, TEMPLATE_NAME))


def _family(alias: str) -> str:
    from django_cfg.settings.url import engine_family

    return str(engine_family(connections[alias].settings_dict["ENGINE"]))


def _sqlite_path(database: DatabaseConfig) -> str | None:
    if not names_a_file(database.name):
        return None
    return str(database.to_django(getattr(settings, "BASE_DIR", None))["NAME"])


def clone_template(registry: Any, alias: str, url: str = "") -> bool:
    """Make ``alias``'s database (missing yet) a copy of the template, if the template is
    current and the engine can copy it; False: nothing was done (create and migrate it)."""
    if url or _family(alias) not in _CLONES:
        return False
    refuse_production(alias, "create")
    template = template_database(registry.template)
    complete = recorded_when_migrated()
    if _family(alias) == "sqlite":
        return _clone_sqlite(template, alias, complete)
    return _clone_postgresql(template, alias, complete)


def _clone_sqlite(template: DatabaseConfig, alias: str, complete: Rows) -> bool:
    source = _sqlite_path(template)
    target = str(connections[alias].settings_dict["NAME"])
    if source is None or not names_a_file(target):
        return False
    # One name per tenant file (its creator holds the tenant's name lock): a copy left by a
    # killed creation is overwritten by the next one, never left behind.
    staged = f"{target}.clone"
    try:
        # The copy first, then its currency: the template may be replaced meanwhile (a rename:
        # this copy is the old file or the new one, whole).
        shutil.copyfile(source, staged)
    except OSError:
        return False
    try:
        if not complete.copyable(sqlite_template(staged)):
            return False
        with closing(sqlite3.connect(staged)) as copy, copy:
            copy.execute(f"DROP TABLE {STAMP_TABLE}")  # a tenant is as migrate leaves it
        os.link(staged, target)  # never over a file that exists
    except FileExistsError:
        return False
    finally:
        Path(staged).unlink(missing_ok=True)
    return True


def _clone_postgresql(template: DatabaseConfig, alias: str, complete: Rows) -> bool:
    connection = connections[alias]
    if not _same_server(template, connection.settings_dict):
        return False
    try:
        checked = _server_template(connection, template.name)
        if not complete.copyable(checked):
            return False
        quote = connection.ops.quote_name
        target = quote(connection.settings_dict["NAME"])
        with connection._nodb_cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {target} TEMPLATE {quote(template.name)}")
            # The database checked, not one a refresh renamed in its place meanwhile (made by
            # a process with other migration files): else this copy is dropped and migrated.
            cursor.execute("SELECT oid FROM pg_database WHERE datname = %s", [template.name])
            if cursor.fetchone() != (checked.oid,):
                cursor.execute(f"DROP DATABASE {target}")
                return False
    except DatabaseError:  # held open by another process, dropped meanwhile: migrate instead
        return False
    return True


def _same_server(template: DatabaseConfig, settings_dict: dict[str, Any]) -> bool:
    return (template.host or "", str(template.port or "")) == (
        str(settings_dict.get("HOST") or ""),
        str(settings_dict.get("PORT") or ""),
    )


def _server_template(connection: Any, name: str) -> TemplateState:
    """What template database ``name`` on ``connection``'s server holds, read by a connection
    of its own, closed before returning (never pooled)."""
    other = connection.copy()
    other.settings_dict = {
        **other.settings_dict,
        "NAME": name,
        "OPTIONS": {k: v for k, v in other.settings_dict.get("OPTIONS", {}).items() if k != "pool"},
    }
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT app, name FROM django_migrations")
            recorded = frozenset((app, migration) for app, migration in cursor.fetchall())
            cursor.execute(
                "SELECT oid, shobj_description(oid, 'pg_database') FROM pg_database "
                "WHERE datname = current_database()"
            )
            oid, comment = cursor.fetchone()
    except DatabaseError:
        return TemplateState(None)
    finally:
        other.close()
    stamp = comment.removeprefix(_COMMENT) if (comment or "").startswith(_COMMENT) else None
    return TemplateState(recorded, stamp, int(oid))


def _stamp_postgresql(cursor: Any, name: str, stamp: str) -> None:
    """Stamp template ``name`` (a comment: copies do not inherit it); ``stamp`` is hex."""
    quoted = cursor.db.ops.quote_name(name)
    cursor.execute(f"COMMENT ON DATABASE {quoted} IS '{_COMMENT}{int(stamp, 16):064x}'")


def refresh_template(registry: Any, alias: str, url: str = "", rows: Rows | None = None) -> None:
    """The template := ``alias``'s database, just migrated (no tenant data yet): best effort,
    a failure leaves the template as it was (the next creation migrates). ``rows``: what
    ``recorded_when_migrated()`` gave before migrating it (its file digests are the stamp)."""
    if url or _family(alias) not in _CLONES:
        return
    template = template_database(registry.template)
    connection = connections[alias]
    rows = rows if rows is not None else recorded_when_migrated()
    source = str(connection.settings_dict["NAME"])
    server = _family(alias) == "postgresql" and _same_server(template, connection.settings_dict)
    try:
        # Its rows by the connection that migrated it, closed before it is copied: a connection
        # opened just for them might still be ending when PostgreSQL checks that nobody else
        # is connected to the database it copies (the refresh then failed under load).
        recorded = _recorded_by(connection) if server else frozenset()
        connection.close()
        if _family(alias) == "sqlite":
            path = _sqlite_path(template)
            if path is not None and names_a_file(source):
                _refresh_sqlite(path, source, rows)
        elif server:
            _refresh_postgresql(connection, source, template.name, rows, rows.stamp(recorded))
    except (DatabaseError, OSError, sqlite3.Error):
        connection.close()


def _staged_for(source: str) -> str:
    """The suffix of the staged copy of the template made from tenant database ``source``:
    one per tenant (its creator holds the tenant's name lock), so that a copy left by a killed
    creation is removed by the next creation of that tenant (the documented way to finish
    it), not left behind under a random name."""
    return hashlib.sha256(source.encode()).hexdigest()[:8]


def _staged_sqlite(target: str, source: str) -> str:
    """The staged copy of template file ``target`` made from tenant file ``source``."""
    return f"{target}.new-{_staged_for(source)}"


def _staged_server(name: str, source: str) -> str | None:
    """The staged copy of template database ``name`` made from tenant database ``source``;
    None if longer than PostgreSQL's 63 bytes (it would cut it: no template then). Never a
    tenant's database: where a tenant's name would start, it has the template's ``_``."""
    staged = f"{name}_new_{_staged_for(source)}"
    return staged if len(staged.encode()) <= 63 else None


def drop_staged(registry: Any, alias: str, url: str = "") -> None:
    """Remove what a killed creation of ``alias``'s tenant left staged, for ``drop_tenant`` of
    that half-created tenant (its caller holds the tenant's name lock): the copy of the
    template beside its SQLite file, the template's staged copy made from its database."""
    if url or _family(alias) not in _CLONES:
        return
    template = template_database(registry.template)
    connection = connections[alias]
    source = str(connection.settings_dict["NAME"])
    if _family(alias) == "sqlite":
        path = _sqlite_path(template)
        if names_a_file(source):
            Path(f"{source}.clone").unlink(missing_ok=True)  # _clone_sqlite's
            if path is not None:
                Path(_staged_sqlite(path, source)).unlink(missing_ok=True)
    elif _same_server(template, connection.settings_dict):
        staged = _staged_server(template.name, source)
        if staged is not None:
            with connection._nodb_cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {connection.ops.quote_name(staged)}")


def _refresh_sqlite(target: str, source: str, rows: Rows) -> None:
    staged = _staged_sqlite(target, source)
    Path(staged).unlink(missing_ok=True)  # left by a killed creation of this tenant
    if rows.copyable(sqlite_template(target)):
        return
    try:
        with closing(sqlite3.connect(source)) as origin, closing(sqlite3.connect(staged)) as copy:
            origin.backup(copy)  # a consistent copy even if the file is open elsewhere
        _stamp_sqlite(staged, rows)
        os.replace(staged, target)  # readers copy the old file or this one, whole
    finally:
        Path(staged).unlink(missing_ok=True)


def _recorded_by(connection: Any) -> frozenset[Key]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations")
        return frozenset((app, migration) for app, migration in cursor.fetchall())


def _refresh_postgresql(connection: Any, source: str, name: str, rows: Rows, stamp: str) -> None:
    quote = connection.ops.quote_name
    staged = _staged_server(name, source)
    if staged is None:
        return
    current = rows.copyable(_server_template(connection, name))
    with connection._nodb_cursor() as cursor:  # one server connection for the whole refresh
        cursor.execute(f"DROP DATABASE IF EXISTS {quote(staged)}")  # a killed creation's
        if current:
            return
        cursor.execute(f"CREATE DATABASE {quote(staged)} TEMPLATE {quote(source)}")
        try:
            _stamp_postgresql(cursor, staged, stamp)
            cursor.execute(f"DROP DATABASE IF EXISTS {quote(name)}")
            cursor.execute(f"ALTER DATABASE {quote(staged)} RENAME TO {quote(name)}")
        except DatabaseError:
            cursor.execute(f"DROP DATABASE IF EXISTS {quote(staged)}")
            raise


EDITED = (
    "left as it is: it was not made from the migration files on disk now (one was edited in "
    "place since, or it has no stamp), and Django's migrate does not run an applied migration "
    "again; the next create_tenant migrates and makes it again"
)


def migrate_template(registry: Any, verbosity: int = 0) -> str:
    """``migrate_all``: an existing template that is not current is migrated (SQLite: a copy,
    renamed over it once migrated) and stamped; what was done ("" if nothing, ``EDITED`` if
    an applied migration's file changed: migrating would not redo it)."""
    template = template_database(registry.template)
    if template.family not in _CLONES:
        return ""
    complete = recorded_when_migrated()
    if template.family == "sqlite":
        path = _sqlite_path(template)
        if path is None or not Path(path).exists():
            return ""
        # Under the template's migration lock (as on PostgreSQL): two migrate_all at once
        # migrate it once, and the staged copy has one name: one left by a killed migrate_all
        # is removed by the next.
        with file_lock(path, "migrate"):  # schema.lock.LOCK_NAME
            staged = f"{path}.new"
            Path(staged).unlink(missing_ok=True)
            state = sqlite_template(path)
            if complete.leave_as_it_is(state):
                return ""
            if not complete.made_from_these_files(state):
                return EDITED
            try:
                shutil.copyfile(path, staged)
                _migrate_alias(DatabaseConfig.from_url(f"sqlite:///{staged}"), verbosity)
                _stamp_sqlite(staged, complete)
                os.replace(staged, path)
            finally:
                Path(staged).unlink(missing_ok=True)
        return "migrated"
    return _migrate_server_template(template, complete, verbosity)


def _migrate_server_template(template: DatabaseConfig, complete: Rows, verbosity: int) -> str:
    """Migrated under the template's migration lock, if still behind once it is held: two
    ``migrate_all`` at once would otherwise both run Django's ``migrate`` on it (the
    migrations without SQL recorded twice, copied into every new tenant; the other failing on
    "already exists")."""
    add_database(TEMPLATE_ALIAS, template)
    try:
        connection = connections[TEMPLATE_ALIAS]
        if complete.leave_as_it_is(_server_template(connection, template.name)):
            return ""
        # The lock migrate_all holds on each database it migrates (schema.lock.LOCK_NAME).
        with server_lock(TEMPLATE_ALIAS, "migrate"):
            state = _server_template(connection, template.name)
            if complete.leave_as_it_is(state):
                return ""  # another run migrated it meanwhile
            if not complete.made_from_these_files(state):
                return EDITED
            _migrate_added(verbosity)
            stamp = complete.stamp(_recorded_by(connection))  # the connection that migrated it
            with connection.cursor() as cursor:
                _stamp_postgresql(cursor, template.name, stamp)
    finally:
        connections[TEMPLATE_ALIAS].close()
        remove_database(TEMPLATE_ALIAS)
    return "migrated"


def _migrate_alias(database: DatabaseConfig, verbosity: int) -> None:
    """Django's ``migrate`` on ``database`` as a tenant database (``TEMPLATE_ALIAS``: the
    tenant apps' tables), its connection closed afterwards."""
    add_database(TEMPLATE_ALIAS, database)
    try:
        _migrate_added(verbosity)
    finally:
        connections[TEMPLATE_ALIAS].close()
        remove_database(TEMPLATE_ALIAS)


def _migrate_added(verbosity: int) -> None:
    """Django's ``migrate`` on ``TEMPLATE_ALIAS``, already added."""
    call_command(
        "migrate",
        database=TEMPLATE_ALIAS,
        interactive=False,
        skip_checks=True,
        tenants_notice=False,
        verbosity=max(verbosity - 1, 0),
    )


def drop_template(registry: Any) -> bool:
    """Drop the template database (the tenants' test databases at the end of a test run);
    whether there was one."""
    from django_cfg.tenants.provisioning import database_exists, drop_database

    template = template_database(registry.template)
    if template.family not in _CLONES:
        return False
    add_database(TEMPLATE_ALIAS, template)
    try:
        existed = database_exists(TEMPLATE_ALIAS)
        if existed:
            drop_database(TEMPLATE_ALIAS)
        return existed
    finally:
        remove_database(TEMPLATE_ALIAS)
