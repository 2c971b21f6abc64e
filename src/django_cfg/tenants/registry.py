"""Which tenants exist, where each one's database is, and which are open in this process.

    registry = current_registry()
    registry.exists("acme")        # in TenantsConfig.names, or a row of the tenants table
    registry.alias_for("acme")     # "tenant_acme": added with add_database on first use,
                                   # with its replicas ("tenant_acme.replica") if it has any
    registry.close("acme")         # remove_database of its replicas, then of "tenant_acme"

A tenant's database is added to this process (``add_database`` of
``django_cfg.runtime.added_databases``) the first time a query needs it, so a tenant created
while the server runs is usable at once. Past
``TenantsConfig.max_open`` open tenants, the least recently used one is removed again
(``remove_database``: this thread's connection is closed now, each other thread's at its next
routed query, ``fresh_connection``, or its request's end) and reopened when used again.

With the tenants table, an open tenant's row is read again at its first use after
``TenantsConfig.recheck_seconds``: when its ``version`` changed (``move_tenant`` started,
switched or gave up; ``drop_tenant``), the database is removed and added again as the row now
says: read-only while the tenant is being moved, at its new URL after the move.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.views.decorators.debug import sensitive_variables

from django_cfg.routing.read_only import read_only_because
from django_cfg.runtime.added_databases import add_database, remove_database
from django_cfg.runtime.runtime import (
    DatabaseRuntime,
    building,
    current_runtime,
    thread_connection,
)
from django_cfg.settings.database_config import DatabaseConfig
from django_cfg.settings.tenant_names import (
    TENANTS_SETTING,
    check_tenant_name,
    fill_template,
    template_text,
    tenant_alias,
    tenant_database_of,
    tenant_of_alias,
    tenant_replica_alias,
)
from django_cfg.tenants.credentials import with_password
from django_cfg.tenants.domains import TenantDomains
from django_cfg.tenants.errors import UnknownTenantError

__all__ = [
    "TenantRegistry",
    "current_registry",
    "fresh_connection",
    "tenant_database_of",
    "tenant_of_alias",
]


class TenantRegistry:
    """The tenants of one ``DJANGO_CFG_TENANTS`` setting and the ones open in this process."""

    def __init__(self, setting: Mapping[str, Any]) -> None:
        self.setting = setting
        self.apps: tuple[str, ...] = tuple(setting.get("apps", ()))
        self.template: str = template_text(setting["url"])
        self.replica_templates: tuple[str, ...] = tuple(
            template_text(template) for template in setting.get("replica_urls") or ()
        )
        self.replica_role: dict[str, Any] = dict(setting.get("replica_role") or {})
        """The ``DatabaseConfig`` fields of every tenant replica: read_weight, lag bounds."""
        names = setting.get("names")
        self.fixed: frozenset[str] | None = frozenset(names) if names is not None else None
        self.max_open: int | None = setting.get("max_open")
        self.recheck_seconds: float = float(setting.get("recheck_seconds") or 5.0)
        self.passwords: Mapping[str, Any] = setting.get("passwords") or {}
        self.domains = TenantDomains(
            setting.get("domains") or {}, self.fixed is None, self.recheck_seconds
        )
        """Each tenant's own domains (``TenantsConfig.domains``, the rows' ``domains``)."""
        self.open: OrderedDict[str, str] = OrderedDict()
        """name -> alias of the tenants whose database this process has added, oldest first."""
        self.replicas: dict[str, tuple[str, ...]] = {}
        """name -> the aliases of its replicas, for the open tenants that have replicas."""
        self._opened: dict[str, tuple[tuple[Any, int], float]] = {}
        """name -> ((the row's pk, its version) when opened, when to read the row again)."""
        self._known: set[str] = set()  # rows of the tenants table seen (a tenant once created)
        self._lock = threading.RLock()
        self._holds = 0  # while > 0 (db_status), nothing is closed for max_open
        self._pins: dict[str, int] = {}  # name -> blocks using it (migrate_all): not closed
        self._in_use: dict[str, int] = {}
        """name -> contexts that selected it (``use_tenant``): not closed for ``max_open``."""

    # Which tenants exist -----------------------------------------------------------------------

    def exists(self, name: str) -> bool:
        """Whether ``name`` is a tenant (a valid name, listed or in the tenants table)."""
        try:
            check_tenant_name(name)
        except ValueError:
            return False
        if self.fixed is not None:
            return name in self.fixed
        return name in self._known or self._row(name) is not None

    def names(self) -> list[str]:
        """Every tenant, sorted."""
        if self.fixed is not None:
            return sorted(self.fixed)
        _check_table_installed()
        from django_cfg.tenants.models import UNROUTABLE, Tenant

        rows = Tenant._default_manager.using(DEFAULT_DB_ALIAS).exclude(state__in=UNROUTABLE)
        return list(rows.values_list("name", flat=True))

    def _row(self, name: str) -> Any:
        """Tenant ``name``'s row; None while it is created (not routable), except for the
        creator itself (``provisioning``)."""
        _check_table_installed()
        from django_cfg.tenants.models import UNROUTABLE, Tenant

        row = Tenant._default_manager.using(DEFAULT_DB_ALIAS).filter(name=name).first()
        if row is not None and row.state in UNROUTABLE:
            return row if name in _provisioning.get() else None
        if row is not None:
            self._known.add(name)
        return row

    def check(self, name: str) -> str:
        """``name``, or ``UnknownTenantError`` saying where tenants come from."""
        check_tenant_name(name)
        if not self.exists(name):
            raise self._unknown(name)
        return name

    def _unknown(self, name: str) -> UnknownTenantError:
        fixed = sorted(self.fixed or ())
        listed = ", ".join(fixed) if len(fixed) <= 10 else f"{len(fixed)} tenants"
        where = (
            f"TenantsConfig.names ({listed or 'empty'})"
            if self.fixed is not None
            else f"the tenants table (create it with: manage.py create_tenant {name})"
        )
        return UnknownTenantError(f"no tenant {name!r}: it is not in {where}.")

    def database(self, name: str) -> DatabaseConfig:
        """Where tenant ``name``'s database is: its row's URL, else the template's."""
        return self._database(name, self._row(name) if self.fixed is None else None)

    def _database(self, name: str, row: Any) -> DatabaseConfig:
        return self.database_at(name, row.url if row is not None else "")

    @sensitive_variables()  # here and below: no URL or password in Django's error reports
    def database_at(self, name: str, url: str) -> DatabaseConfig:
        """Tenant ``name``'s database if its row said ``url`` ("": the template's), with the
        password of ``TenantsConfig.passwords`` or the template (``tenants.credentials``)."""
        template = DatabaseConfig.from_url(fill_template(self.template, name))
        if not url:
            return template
        return with_password(DatabaseConfig.from_url(url), template, self.passwords)

    @sensitive_variables()
    def replica_databases(self, name: str, row: Any = None) -> list[DatabaseConfig]:
        """Where tenant ``name``'s replicas are (none without replicas): its row's
        ``replica_urls``, else the replica templates', for a tenant whose database is the
        template's (a tenant placed elsewhere with ``--url`` has the replicas of its row only).
        A stored replica URL gets its password as a stored ``url`` does."""
        primary = tenant_alias(name)
        url, replicas = ("", ()) if row is None else (row.url, tuple(row.replica_urls or ()))
        if not url and not replicas:
            templates = self.replica_templates
            return [
                DatabaseConfig.from_url(
                    fill_template(t, name), replica_of=primary, **self.replica_role
                )
                for t in templates
            ]
        template = DatabaseConfig.from_url(fill_template(self.template, name))
        return [
            with_password(
                DatabaseConfig.from_url(replica, replica_of=primary, **self.replica_role),
                template,
                self.passwords,
            )
            for replica in replicas
        ]

    def forget(self, name: str) -> None:
        """Drop what this process knows of ``name`` (after ``drop_tenant``)."""
        self.close(name)
        self._known.discard(name)

    # Open databases ----------------------------------------------------------------------------

    def alias_for(self, name: str) -> str:
        """The alias of tenant ``name``'s database, added to this process if it is not yet
        (and added again if its row changed since: see the module's docstring)."""
        open_ = self.open
        alias = open_.get(name)
        if alias is not None:
            opened = self._opened.get(name)
            if opened is not None and opened[1] <= time.monotonic():
                return self._recheck(name)
            try:
                open_.move_to_end(name)
            except KeyError:  # closed by another thread meanwhile: reopen
                return self._open(name)
            return alias
        return self._open(name)

    def refresh(self, name: str) -> str:
        """Read tenant ``name``'s row now (not at the next ``recheck_seconds``) and reopen its
        database if the row changed; its alias."""
        with self._lock:
            if name in self._opened:
                self._opened[name] = (self._opened[name][0], 0.0)
            return self.alias_for(name)

    def _recheck(self, name: str) -> str:
        with self._lock:
            alias, opened = self.open.get(name), self._opened.get(name)
            if alias is None or opened is None:
                return self._open(name)
            version, due = opened
            now = time.monotonic()
            held = self._holds or name in self._pins
            if due > now or held or _in_event_loop() or _in_transaction(alias):
                # checked by another thread; kept while held or pinned (db_status, migrate_all);
                # not from an event loop; not under an open transaction of this thread
                return alias
            try:
                row = self._row(name)
            except DatabaseError:  # default unreachable: keep what is open, ask again later
                self._opened[name] = (version, now + self.recheck_seconds)
                return alias
            if row is not None and (row.pk, row.version) == version:
                self._opened[name] = (version, now + self.recheck_seconds)
                return alias
            self.close(name)  # moved, being moved, back from a move, or dropped
            current_runtime().state.operations.tenants_superseded += 1
            if row is None:
                self._known.discard(name)
            return self._open(name)

    @sensitive_variables()  # add_database's settings hold the password
    def _open(self, name: str) -> str:
        with self._lock:
            alias = self.open.get(name)
            if alias is not None:
                return alias
            alias = tenant_alias(name)
            if alias not in connections.settings:
                if self.fixed is not None:
                    self.check(name)
                    add_database(alias, self._database(name, None))
                    row = None
                else:
                    check_tenant_name(name)
                    row = self._row(name)
                    if row is None:
                        raise self._unknown(name)
                    self._add(name, alias, row)
                self._add_replicas(name, row)
            self.open[name] = alias
            current_runtime().state.operations.tenants_opened += 1
            self._bound()
            return alias

    def _add_replicas(self, name: str, row: Any) -> None:
        """Add tenant ``name``'s replicas as replicas of its database (the replica routing of
        every primary applies: read-your-writes, failover, lag bounds); all or none."""
        added: list[str] = []
        try:
            for number, replica in enumerate(self.replica_databases(name, row), start=1):
                alias = tenant_replica_alias(name, number)
                add_database(alias, replica)
                added.append(alias)
        except BaseException:
            for alias in [*reversed(added), tenant_alias(name)]:
                remove_database(alias)
            raise
        if added:
            self.replicas[name] = tuple(added)

    def _add(self, name: str, alias: str, row: Any) -> None:
        from django_cfg.tenants.models import MOVING

        moving = row.state == MOVING
        add_database(alias, self._database(name, row), read_only=moving or None)
        read_only_because(
            alias,
            f"tenant {name!r} is read-only while manage.py move_tenant moves its database "
            f"({alias!r}); writes are refused until the move ends, then they go to the "
            "tenant's new database"
            if moving
            else None,
        )
        # the row's identity too: a tenant dropped and created again may restart at its version
        self._opened[name] = ((row.pk, row.version), time.monotonic() + self.recheck_seconds)

    def _bound(self) -> None:
        """Close the least recently used tenants past ``max_open`` (none while held; never
        a pinned one or one a context has selected: past ``max_open`` while more than it are
        in use)."""
        with self._lock:
            if self.max_open is None or self._holds:
                return
            busy = self._pins.keys() | self._in_use.keys()
            closable = [name for name in self.open if name not in busy]
            for name in closable[: max(len(self.open) - self.max_open, 0)]:
                self.close(name)
                current_runtime().state.operations.tenants_evicted += 1

    def pin(self, name: str) -> str:
        """Open tenant ``name`` and keep it open until ``unpin(name)`` (``migrate_all``, one
        tenant per worker: ``max_open`` keeps holding for the others)."""
        with self._lock:
            self._pins[name] = self._pins.get(name, 0) + 1
            try:
                return self.alias_for(name)
            except BaseException:
                self.unpin(name)
                raise

    def unpin(self, name: str) -> None:
        with self._lock:
            left = self._pins.pop(name, 1) - 1
            if left:
                self._pins[name] = left
        self._bound()

    def use(self, name: str) -> None:
        """A context selected tenant ``name`` (``use_tenant``): its database, once open, is
        not closed for ``max_open`` until as many ``unuse(name)`` (a thread routed to it
        keeps the alias it was given). Opens nothing."""
        with self._lock:
            self._in_use[name] = self._in_use.get(name, 0) + 1

    def unuse(self, name: str) -> None:
        """The end of a ``use(name)``: past ``max_open`` (tenants were kept open while in use),
        the least recently used ones no context uses are closed now (not from an event loop:
        at the next opening then)."""
        with self._lock:
            left = self._in_use.pop(name, 1) - 1
            if left:
                self._in_use[name] = left
            over = self.max_open is not None and len(self.open) > self.max_open
        if over and not _in_event_loop():
            self._bound()

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Keep every tenant opened in the block open until its end (``db_status``);
        ``max_open`` applies again afterwards."""
        with self._lock:
            self._holds += 1
        try:
            yield
        finally:
            with self._lock:
                self._holds -= 1
            self._bound()

    def close(self, name: str) -> None:
        """Remove tenant ``name``'s database from this process, if it is open."""
        with self._lock:
            alias = self.open.pop(name, None)
            for replica in self.replicas.pop(name, ()):
                if replica in connections.settings:
                    remove_database(replica)
            self._opened.pop(name, None)
            if alias is not None and alias in connections.settings:
                remove_database(alias)
                read_only_because(alias, None)

    def close_unless_used(self, name: str) -> None:
        """Close tenant ``name`` unless it is pinned or a context selected it (a shared delete
        closes each tenant it opened: ``relations.shared_delete``)."""
        with self._lock:
            if name not in self._pins and name not in self._in_use:
                self.close(name)


_provisioning: ContextVar[frozenset[str]] = ContextVar(
    "django_cfg_tenant_provisioning", default=frozenset()
)


@contextmanager
def provisioning(name: str) -> Iterator[None]:
    """In the block, in this context only, tenant ``name`` routes while it is being created
    (``tenants.lifecycle`` migrates its database); everywhere else it does not exist until
    its row is ready."""
    token = _provisioning.set(_provisioning.get() | {name})
    try:
        yield
    finally:
        _provisioning.reset(token)


def _check_table_installed() -> None:
    from django.apps import apps
    from django.core.exceptions import ImproperlyConfigured

    if not apps.is_installed("django_cfg.tenants"):
        raise ImproperlyConfigured(
            "TenantsConfig without names keeps its tenants in a table of the "
            "'django_cfg.tenants' app: add it to INSTALLED_APPS (DjangoConfig does), or list "
            "the tenants in names."
        )


def fresh_connection(alias: str, runtime: DatabaseRuntime) -> str:
    """``alias``, once this thread holds no connection to a database removed since it last
    looked (a tenant closed for ``max_open``, or reopened after a move or a drop): the tenant
    router calls it for every query it routes, whatever the thread does (no request needed).
    One dictionary lookup and one comparison when nothing was removed: the router reads
    ``runtime.state.tenant_connections`` inline (each tenant database this thread was routed
    to -> ``runtime.removals`` when it last checked) and calls this when it differs. A tenant
    first routed to since this thread last found all its connections current checks only its
    own (opening n tenants in one thread is O(n), not n^2: issue 23, point 7)."""
    removals = runtime.removals
    checked = runtime.state.tenant_connections.__dict__
    if checked.get(alias) == removals:
        return alias
    checked.setdefault(alias, None)
    swept = runtime.state.tenant_sweeps.__dict__
    if swept.get("upto") == removals:  # nothing removed since every connection was current
        _recheck(alias, checked, removals)
        return alias
    for held in list(checked):
        _recheck(held, checked, removals)
    if None not in checked.values():  # none left in a transaction: all current
        swept["upto"] = removals
    return alias


def _recheck(held: str, checked: dict[str, int | None], removals: int) -> None:
    """Whether this thread's connection to ``held`` is current, noted in ``checked``."""
    if not _close_if_superseded(held):
        checked[held] = None  # in a transaction: closed at a routed query after it
    elif held in connections.settings:
        checked[held] = removals
    else:
        del checked[held]


def _close_if_superseded(alias: str) -> bool:
    """Close and forget this thread's connection to ``alias`` if it was opened for settings that
    are gone (the alias removed, or removed and added again); False if kept because a
    transaction is open on it (closing it would break the transaction)."""
    connection = thread_connection(alias)  # not connections[alias]: it reopens a tenant
    if connection is None or connection.settings_dict is connections.settings.get(alias):
        return True
    if connection.in_atomic_block:
        return False
    with suppress(DatabaseError):  # a connection the server ended (a dropped database)
        connection.close()
    del connections[alias]
    return True


def _in_transaction(alias: str) -> bool:
    """Whether this thread has a transaction open on ``alias`` (reopening would break it)."""
    return alias in connections.settings and connections[alias].in_atomic_block


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def current_registry() -> TenantRegistry | None:
    """The registry of the ``DJANGO_CFG_TENANTS`` setting (None without tenants), kept on the
    runtime's process state; a new one when the setting changed (``override_settings``)."""
    setting = getattr(settings, TENANTS_SETTING, None)
    state = current_runtime().state
    registry: TenantRegistry | None = state.tenant_registry
    if registry is not None and registry.setting is setting:
        return registry
    if not setting:
        return None
    with building:
        registry = state.tenant_registry
        if registry is None or registry.setting is not setting:
            registry = state.tenant_registry = TenantRegistry(setting)
        return registry
