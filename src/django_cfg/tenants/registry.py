"""Which tenants exist, where each one's database is, and which are open in this process.

    registry = current_registry()
    registry.exists("acme")        # in TenantsConfig.names, or a row of the tenants table
    registry.alias_for("acme")     # "tenant_acme": added with add_database on first use
    registry.close("acme")         # remove_database("tenant_acme")

A tenant's database is added to this process (``django_cfg.routing.runtime.add_database``) the
first time a query needs it, so a tenant created while the server runs is usable at once. Past
``TenantsConfig.max_open`` open tenants, the least recently used one is removed again
(``remove_database``: this thread's connection is closed now, other threads' at their request's
end) and reopened when used again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from django_cfg.routing.runtime import add_database, remove_database
from django_cfg.settings.database_config import DatabaseConfig
from django_cfg.settings.tenants import (
    PLACEHOLDER,
    TENANT_ALIAS_PREFIX,
    TENANTS_SETTING,
    check_tenant_name,
    tenant_alias,
)
from django_cfg.tenants.context import UnknownTenantError

__all__ = ["TenantRegistry", "current_registry", "tenant_of_alias"]


class TenantRegistry:
    """The tenants of one ``DJANGO_CFG_TENANTS`` setting and the ones open in this process."""

    def __init__(self, setting: Mapping[str, Any]) -> None:
        self.setting = setting
        self.apps: tuple[str, ...] = tuple(setting.get("apps", ()))
        self.template: str = setting["url"]
        names = setting.get("names")
        self.fixed: frozenset[str] | None = frozenset(names) if names is not None else None
        self.max_open: int | None = setting.get("max_open")
        self.open: OrderedDict[str, str] = OrderedDict()
        """name -> alias of the tenants whose database this process has added, oldest first."""
        self._known: set[str] = set()  # rows of the tenants table seen (a tenant once created)
        self._lock = threading.RLock()
        self._holds = 0  # while > 0 (db_status), nothing is closed for max_open
        self._pins: dict[str, int] = {}  # name -> blocks using it (migrate_all): not closed

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
        from django_cfg.tenants.models import Tenant

        return list(Tenant._default_manager.using(DEFAULT_DB_ALIAS).values_list("name", flat=True))

    def _row(self, name: str) -> Any:
        _check_table_installed()
        from django_cfg.tenants.models import Tenant

        row = Tenant._default_manager.using(DEFAULT_DB_ALIAS).filter(name=name).first()
        if row is not None:
            self._known.add(name)
        return row

    def check(self, name: str) -> str:
        """``name``, or ``UnknownTenantError`` saying where tenants come from."""
        check_tenant_name(name)
        if not self.exists(name):
            where = (
                f"TenantsConfig.names ({', '.join(sorted(self.fixed)) or 'empty'})"
                if self.fixed is not None
                else f"the tenants table (create it with: manage.py create_tenant {name})"
            )
            raise UnknownTenantError(f"no tenant {name!r}: it is not in {where}.")
        return name

    def database(self, name: str) -> DatabaseConfig:
        """Where tenant ``name``'s database is: its row's URL, else the template's."""
        url = ""
        if self.fixed is None:
            row = self._row(name)
            url = row.url if row is not None else ""
        return DatabaseConfig.from_url(url or self.template.replace(PLACEHOLDER, name))

    def forget(self, name: str) -> None:
        """Drop what this process knows of ``name`` (after ``drop_tenant``)."""
        self.close(name)
        self._known.discard(name)

    # Open databases ----------------------------------------------------------------------------

    def alias_for(self, name: str) -> str:
        """The alias of tenant ``name``'s database, added to this process if it is not yet."""
        open_ = self.open
        alias = open_.get(name)
        if alias is not None:
            try:
                open_.move_to_end(name)
            except KeyError:  # closed by another thread meanwhile: reopen
                return self._open(name)
            return alias
        return self._open(name)

    def _open(self, name: str) -> str:
        with self._lock:
            alias = self.open.get(name)
            if alias is not None:
                return alias
            alias = tenant_alias(name)
            if alias not in connections.settings:
                self.check(name)
                add_database(alias, self.database(name))
            self.open[name] = alias
            self._bound()
            return alias

    def _bound(self) -> None:
        """Close the least recently used tenants past ``max_open`` (none while held; never
        a pinned one: past ``max_open`` while more than it are pinned)."""
        with self._lock:
            if self.max_open is None or self._holds:
                return
            closable = [name for name in self.open if name not in self._pins]
            for name in closable[: max(len(self.open) - self.max_open, 0)]:
                self.close(name)

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
            if alias is not None and alias in connections.settings:
                remove_database(alias)


def _check_table_installed() -> None:
    from django.apps import apps
    from django.core.exceptions import ImproperlyConfigured

    if not apps.is_installed("django_cfg.tenants"):
        raise ImproperlyConfigured(
            "TenantsConfig without names keeps its tenants in a table of the "
            "'django_cfg.tenants' app: add it to INSTALLED_APPS (DjangoConfig does), or list "
            "the tenants in names."
        )


def tenant_of_alias(alias: str) -> str | None:
    """The tenant whose database ``alias`` is (``tenant_acme`` -> ``acme``), else None."""
    if not alias.startswith(TENANT_ALIAS_PREFIX):
        return None
    name = alias[len(TENANT_ALIAS_PREFIX) :]
    try:
        return check_tenant_name(name)
    except ValueError:
        return None


_registry: TenantRegistry | None = None
_building = threading.Lock()


def current_registry() -> TenantRegistry | None:
    """The registry of the ``DJANGO_CFG_TENANTS`` setting (None without tenants); a new one
    when the setting changed (``override_settings``)."""
    global _registry  # noqa: PLW0603 (the process's open tenants: one registry per setting)
    setting = getattr(settings, TENANTS_SETTING, None)
    registry = _registry
    if registry is not None and registry.setting is setting:
        return registry
    if not setting:
        return None
    with _building:
        if _registry is None or _registry.setting is not setting:
            _registry = TenantRegistry(setting) if setting else None
        return _registry
