"""Creating and dropping a tenant: what ``create_tenant`` / ``drop_tenant`` do, for sign-up
flows too.

    from django_cfg.tenants import TenantExistsError, create_tenant, drop_tenant

    try:
        tenant = create_tenant("acme")   # its database created, migrated, then routable
    except TenantExistsError:
        ...                              # the name is taken (or being created right now)
    tenant.database                      # "postgresql://app:***@db1/t_acme" (redacted)
    drop_tenant("acme").database         # forgotten; its database kept: where it is

With the tenants table, a creation goes through the row's ``state``: inserted as ``CREATING``
(the claim: no tenant is routable in that state), ``MIGRATING`` once the database is the
tenant's (recorded before ``CREATE DATABASE``; ``TAKING`` for one that existed), then ready
(``""``). A creation killed at any step is finished by the next ``create_tenant`` of that name
(on MariaDB, which commits each DDL statement, a database it made is made again); concurrent
ones of one name end with one tenant, the others get ``TenantExistsError``
(``tenants.name_lock``). A database that already holds tables is never taken over unless
``adopt=True``: a recycled name does not inherit the data of the tenant that had it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from io import TextIOBase
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, IntegrityError, connections, transaction

from django_cfg.settings.database_config import DatabaseConfig
from django_cfg.settings.sqlite import names_a_file
from django_cfg.settings.tenant_names import check_tenant_name
from django_cfg.settings.url import DatabaseURLError
from django_cfg.tenants.clone import (
    clone_template,
    drop_staged,
    recorded_when_migrated,
    refresh_template,
)
from django_cfg.tenants.credentials import check_storable_url
from django_cfg.tenants.name_lock import tenant_name_lock
from django_cfg.tenants.provisioning import (
    create_database,
    database_exists,
    drop_database,
    table_names,
)
from django_cfg.tenants.registry import TenantRegistry, current_registry, provisioning

__all__ = [
    "CreatedTenant",
    "DroppedTenant",
    "TenantExistsError",
    "TenantLifecycleError",
    "create_tenant",
    "drop_tenant",
]


class TenantLifecycleError(Exception):
    """A tenant could not be created or dropped; the message says why and what to do."""


class TenantExistsError(TenantLifecycleError):
    """The tenant exists already, or another process or thread is creating or dropping it."""


@dataclass(frozen=True)
class CreatedTenant:
    """What ``create_tenant`` made: the tenant, its alias, where its database is and what it
    was."""

    name: str
    alias: str
    database: str
    """Its database, as a URL without password."""
    how: str
    """What the database was: "created", "already existed, empty", "adopted" (it had tables) or
    "resumed" (an interrupted creation was finished)."""
    replicas: tuple[str, ...] = field(default=())
    cloned: bool = False
    """Whether the database was copied from the migrated template (``tenants.clone``) rather
    than migrated."""


@dataclass(frozen=True)
class DroppedTenant:
    """What ``drop_tenant`` did: the tenant, where its database is, whether it was dropped."""

    name: str
    database: str
    """Its database, as a URL without password (a SQLite file: its path)."""
    dropped: bool
    """Whether the database was dropped (else it is kept, with its data)."""


def create_tenant(
    name: str,
    *,
    url: str | None = None,
    replica_urls: Sequence[str] = (),
    adopt: bool = False,
    verbosity: int = 0,
    stdout: TextIOBase | None = None,
) -> CreatedTenant:
    """Create tenant ``name``: its database (``url``, else the template's), migrated, then
    routable. ``adopt``: take over a database that already has tables. Raises
    ``TenantExistsError``, else ``TenantLifecycleError`` (a failure after the database became
    the tenant's leaves it to be finished by calling again, or abandoned with ``drop_tenant``).
    """
    registry = _registry()
    name = _checked(name, url, replica_urls, registry)
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        raise TenantLifecycleError(
            f"create_tenant({name!r}) cannot run inside a transaction on 'default' "
            "(transaction.atomic(), ATOMIC_REQUESTS): each of its steps must be committed when "
            "it is done, so that a crash can be resumed. Call it outside the transaction "
            "(e.g. from transaction.on_commit)."
        )
    with tenant_name_lock(name) as held:
        if not held:
            raise TenantExistsError(
                f"Tenant {name!r} already exists: another process or thread is creating or "
                "dropping it right now."
            )
        with provisioning(name):
            if registry.fixed is not None:
                return _create_listed(registry, name, adopt, verbosity, stdout)
            return _create_recorded(registry, name, url, replica_urls, adopt, verbosity, stdout)


def drop_tenant(name: str, *, drop_database: bool = False) -> DroppedTenant:
    """Forget tenant ``name`` (any state, an interrupted creation too); with
    ``drop_database`` its database is dropped, else kept with its data (a later
    ``create_tenant`` of the name refuses it unless ``adopt=True``). A bare claim (a creation
    interrupted before it made or took a database) has no database of its own: what is at its
    place (a tenant of that name dropped earlier, its data kept) is kept."""
    from django_cfg.tenants.models import CREATING, DROPPING, UNROUTABLE, Tenant

    registry = _registry()
    if registry.fixed is not None:
        raise TenantLifecycleError(
            "This project lists its tenants in TenantsConfig.names: remove the tenant there."
        )
    name = _valid_name(name)
    with tenant_name_lock(name) as held:
        if not held:
            raise TenantLifecycleError(
                f"Tenant {name!r} is being created or dropped by another process or thread "
                "right now: try again when it is done."
            )
        row = _rows().filter(name=name).first()
        if row is None:
            raise TenantLifecycleError(
                f"no tenant {name!r}: it is not in the tenants table (nothing to drop)."
            )
        database = registry.database_at(name, row.url)
        drop_database = drop_database and row.state != CREATING  # a claim: not its database
        if drop_database:
            # Not routable first (requests get a 404, not a dropped database); killed before
            # the row is deleted, drop_tenant again finishes, and create_tenant refuses the
            # name until then (_claim).
            state = row.state
            _set_state(row, DROPPING)
            try:
                _drop_database_of(registry, name, row)
            except TenantLifecycleError:
                _set_state(row, state)  # the tenant is kept as it was
                raise
        elif row.state in UNROUTABLE:  # half created: what it staged goes, its database stays
            _drop_staged_of(registry, name, row)
        registry.forget(name)
        Tenant._default_manager.using(DEFAULT_DB_ALIAS).filter(pk=row.pk).delete()
        return DroppedTenant(name, _where(database), dropped=drop_database)


def _drop_staged_of(registry: TenantRegistry, name: str, row: Any) -> None:
    """Remove the copies of the template a killed creation of ``name`` staged (never the
    tenant's data): best effort, a failure leaves them to the next creation of the name."""
    with provisioning(name):
        try:
            drop_staged(registry, registry.alias_for(name), row.url)
        except (DatabaseError, OSError):
            pass
        finally:
            registry.forget(name)


def _drop_database_of(registry: TenantRegistry, name: str, row: Any) -> None:
    with provisioning(name):
        registry.forget(name)
        alias = registry.alias_for(name)
        try:
            drop_database(alias)
            drop_staged(registry, alias, row.url)  # what a killed creation left staged
        except (DatabaseError, OSError) as error:
            where = _where(registry.database_at(name, row.url))
            raise TenantLifecycleError(
                f"Tenant {name!r}: dropping its database {where} failed (the tenant is kept): "
                f"{_without_password(alias, error)}"
            ) from None
        finally:
            registry.forget(name)


# Creation --------------------------------------------------------------------------------------


def _create_recorded(
    registry: TenantRegistry,
    name: str,
    url: str | None,
    replica_urls: Sequence[str],
    adopt: bool,
    verbosity: int,
    stdout: TextIOBase | None,
) -> CreatedTenant:
    from django_cfg.tenants.models import CREATING, MIGRATING

    row, resumed = _claim(name, url, replica_urls)
    registry.forget(name)  # what this process knew of an earlier tenant of the name
    alias = ""
    try:
        alias = registry.alias_for(name)
        if row.state == CREATING:
            how = _take_database(registry, name, row, alias, adopt=adopt, resumed=resumed)
        elif not database_exists(alias) or (row.state == MIGRATING and _made_again(alias)):
            # killed before its database was made, or half a migration's DDL is in it
            _set_state(row, MIGRATING)  # made by this creation (a TAKING one dropped by hand)
            how = _new_database(registry, row, alias)
        else:  # the database is the tenant's (made by this creation, found empty or adopted)
            how = "resumed"
        _migrated(registry, name, row, alias, how, verbosity, stdout)
        _set_state(row, "")
    except (DatabaseError, CommandError, OSError, TenantLifecycleError) as error:
        raise _failed(registry, name, row, alias, error, resumed=resumed) from None
    finally:
        registry.forget(name)  # opened again from the ready row at its first use
    return _created(registry, name, row, alias, how)


def _create_listed(
    registry: TenantRegistry, name: str, adopt: bool, verbosity: int, stdout: TextIOBase | None
) -> CreatedTenant:
    """A tenant of ``TenantsConfig.names``: no row records whether its database is its own,
    so a database with tables is taken only with ``adopt``."""
    if name not in (registry.fixed or ()):
        raise TenantLifecycleError(
            f"Tenant {name!r} is not in TenantsConfig.names; this project lists its tenants in "
            "settings: add it there (create_tenant then creates and migrates its database)."
        )
    alias = registry.alias_for(name)
    try:
        how = _take_database(registry, name, None, alias, adopt=adopt, resumed=False)
        _migrated(registry, name, None, alias, how, verbosity, stdout)
    except (DatabaseError, CommandError, OSError) as error:
        raise _failed(registry, name, None, alias, error) from None
    return _created(registry, name, None, alias, how)


def _claim(name: str, url: str | None, replica_urls: Sequence[str]) -> tuple[Any, bool]:
    """The tenant's row, inserted in state CREATING, or the row of an interrupted creation
    (the name lock is held: nobody else works on it); whether it was resumed."""
    from django_cfg.tenants.models import CREATING, DROPPING, UNROUTABLE, Tenant

    stored = {"url": url or "", "replica_urls": list(replica_urls)}
    try:
        with transaction.atomic(using=DEFAULT_DB_ALIAS):
            row = Tenant._default_manager.using(DEFAULT_DB_ALIAS).create(
                name=name, state=CREATING, **stored
            )
        return row, False
    except IntegrityError:
        row = _rows().filter(name=name).first()
    if row is None or row.state not in UNROUTABLE:
        raise TenantExistsError(f"Tenant {name!r} already exists.")
    if row.state == DROPPING:
        raise TenantLifecycleError(
            f"Tenant {name!r} is half dropped (a drop_tenant --drop-database was interrupted; "
            f"its database may still hold its data): run drop_tenant {name} --drop-database "
            f"to finish the drop, then create_tenant {name}."
        )
    if (url is not None or replica_urls) and stored != {
        "url": row.url,
        "replica_urls": list(row.replica_urls or ()),
    }:
        raise TenantLifecycleError(
            f"Tenant {name!r} is half created with another --url / --replica-url "
            f"({row.url or 'the template'}): run create_tenant {name} without them to finish "
            f"it, or drop_tenant {name} --drop-database to start again."
        )
    return row, True


def _take_database(
    registry: TenantRegistry, name: str, row: Any, alias: str, *, adopt: bool, resumed: bool
) -> str:
    """Make ``alias``'s database the tenant's: create it, or take it empty, or adopt its
    tables (``adopt``); the row says MIGRATING before the database is made, TAKING once one
    that existed is taken."""
    from django_cfg.tenants.models import MIGRATING, TAKING

    if not database_exists(alias):
        if row is not None:
            _set_state(row, MIGRATING)  # recorded first: a resumed creation continues on it
        return _new_database(registry, row, alias)
    tables = table_names(alias)
    if tables and not adopt:
        where = _where(registry.database_at(name, row.url if row is not None else ""))
        shown = ", ".join(tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")
        raise TenantLifecycleError(
            f"Tenant {name!r} was not created: its database {where} ({alias}) "
            f"already exists and holds {len(tables)} tables ({shown}), perhaps a dropped "
            "tenant's data. Drop that database, or place the tenant elsewhere with --url, or "
            "pass --adopt (adopt=True) to make it this tenant's database, data included."
        )
    if row is not None:
        _set_state(row, TAKING)
    return "adopted" if tables else ("resumed" if resumed else "already existed, empty")


def _made_again(alias: str) -> bool:
    """A resumed creation's database that this creation made (MIGRATING) on an engine that
    commits each DDL statement (MariaDB: a kill inside a migration leaves a column added and
    its row unwritten, which ``migrate`` cannot finish): dropped, to be made again, when no
    table but ``django_migrations`` holds a row (it was never routable: only its migrations
    wrote to it; a row elsewhere, e.g. from a data migration, leaves it to ``migrate``)."""
    connection = connections[alias]
    if connection.features.can_rollback_ddl:  # each migration was all or nothing
        return False
    quote = connection.ops.quote_name
    models = set(connection.introspection.django_table_names())
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        if not set(tables) <= models | {"django_migrations"}:
            return False  # a table no model makes (a row of an earlier version's adoption)
        for table in tables:
            if table != "django_migrations":
                cursor.execute(f"SELECT 1 FROM {quote(table)} LIMIT 1")
                if cursor.fetchone() is not None:
                    return False
    drop_database(alias)
    return True


def _new_database(registry: TenantRegistry, row: Any, alias: str) -> str:
    """Create ``alias``'s database: a copy of the migrated template where the engine allows
    and the template is current ("cloned"), else an empty one ("created")."""
    if clone_template(registry, alias, row.url if row is not None else ""):
        return "cloned"
    create_database(alias)
    return "created"


def _migrated(
    registry: TenantRegistry,
    name: str,
    row: Any,
    alias: str,
    how: str,
    verbosity: int,
    stdout: TextIOBase | None,
) -> None:
    """Migrate the tenant's database unless it is a clone of the current template; a database
    made for it and migrated becomes the template when the template is missing or behind."""
    if how == "cloned":
        return
    if how == "adopted":  # an adopted database holds data: never a template
        _migrate(name, verbosity, stdout)
        return
    files = recorded_when_migrated()  # read before migrating: a file edited meanwhile is stale
    _migrate(name, verbosity, stdout)
    refresh_template(registry, alias, row.url if row is not None else "", files)


def _migrate(name: str, verbosity: int, stdout: TextIOBase | None) -> None:
    """The tenant apps' migrations on its database (``migrate_all --tenant``)."""
    call_command(
        "migrate_all",
        tenants=[name],
        template=False,  # made from this database afterwards if it is behind
        verbosity=verbosity,
        interactive=False,
        **({"stdout": stdout} if stdout is not None else {}),
    )


def _set_state(row: Any, state: str) -> None:
    """Record ``state``. ``version`` stays: no process opened the tenant before it is ready
    (the creator forgets what it opened), so none has to reopen it."""
    from django_cfg.tenants.models import Tenant

    Tenant._default_manager.using(DEFAULT_DB_ALIAS).filter(pk=row.pk).update(state=state)
    row.state = state


def _release(row: Any, state: str) -> None:
    """Remove the claim of a creation refused before it took a database (still ``state``)."""
    from django_cfg.tenants.models import Tenant

    Tenant._default_manager.using(DEFAULT_DB_ALIAS).filter(pk=row.pk, state=state).delete()


def _failed(
    registry: TenantRegistry,
    name: str,
    row: Any,
    alias: str,
    error: BaseException,
    *,
    resumed: bool = False,
) -> TenantLifecycleError:
    """The error of a refused or failed step. Before a database was taken, the claim this call
    inserted is removed; one left by an interrupted create or drop stays (not routable)."""
    from django_cfg.tenants.models import CREATING

    message = (
        str(error)
        if isinstance(error, TenantLifecycleError)
        else f"Tenant {name!r} was not created: {_without_password(alias, error)}"
    )
    if row is None:
        return TenantLifecycleError(message)
    if row.state == CREATING and not resumed:
        _release(row, CREATING)
        return TenantLifecycleError(message)
    if row.state == CREATING:
        return TenantLifecycleError(
            f"{message}\nThe row of an interrupted create_tenant of {name!r} stays (not "
            f"routable): drop_tenant {name} removes it (the database at its place is not its "
            "own: kept)."
        )
    from django_cfg.tenants.models import TAKING

    where = _where(registry.database_at(name, row.url))
    if row.state == TAKING:  # it existed before: its tables may hold someone's data
        return TenantLifecycleError(
            f"{message}\nIts database {where} existed before (found empty or adopted) and is "
            f"the tenant's, not yet routable: run create_tenant {name} again to finish, or "
            f"drop_tenant {name} (without --drop-database) to leave the database as it is now; "
            "--drop-database would drop what it held."
        )
    return TenantLifecycleError(
        f"{message}\nIts database {where} is the tenant's, not yet routable: run "
        f"create_tenant {name} again to finish, or drop_tenant {name} --drop-database to "
        "abandon it."
    )


def _created(registry: TenantRegistry, name: str, row: Any, alias: str, how: str) -> CreatedTenant:
    replicas = tuple(r.redacted_url for r in registry.replica_databases(name, row))
    database = registry.database_at(name, row.url if row is not None else "").redacted_url
    cloned = how == "cloned"
    return CreatedTenant(name, alias, database, "created" if cloned else how, replicas, cloned)


# Helpers ---------------------------------------------------------------------------------------


def _registry() -> TenantRegistry:
    registry = current_registry()
    if registry is None:
        raise TenantLifecycleError(
            "This project has no tenants: set DjangoConfig.tenants = TenantsConfig(...) "
            "(docs/tenants.md)."
        )
    return registry


def _valid_name(name: str) -> str:
    try:
        return check_tenant_name(name)
    except ValueError as error:
        raise TenantLifecycleError(str(error)) from None


def _checked(
    name: str, url: str | None, replica_urls: Sequence[str], registry: TenantRegistry
) -> str:
    name = _valid_name(name)
    try:
        if url:
            check_storable_url(url)  # unreadable, or with a password: refused
        for replica in replica_urls:
            check_storable_url(replica, "--replica-url")
    except (ValueError, DatabaseURLError) as error:
        raise TenantLifecycleError(str(error)) from None
    if registry.fixed is not None and (url or replica_urls):
        raise TenantLifecycleError(
            "--url and --replica-url need the tenants table (TenantsConfig.names unset)."
        )
    return name


def _rows() -> Any:
    from django_cfg.tenants.models import Tenant

    return Tenant._default_manager.using(DEFAULT_DB_ALIAS)


def _where(database: DatabaseConfig) -> str:
    """``database`` as shown: its URL without password; a SQLite file's full path too."""
    if database.family == "sqlite":
        path = str(database.to_django(getattr(settings, "BASE_DIR", None))["NAME"])
        if path != database.name and names_a_file(path):
            return f"{database.redacted_url} (file {path})"
    return database.redacted_url


def _without_password(alias: str, error: BaseException) -> str:
    """``error``'s text without the password of ``alias``'s database."""
    text = str(error)
    password = str(connections.settings.get(alias, {}).get("PASSWORD") or "") if alias else ""
    return text.replace(password, "***") if password else text
