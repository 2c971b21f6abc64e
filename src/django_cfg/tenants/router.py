"""The tenant router: in ``DATABASE_ROUTERS`` in front of the package's ``DatabaseRouter``
(``DjangoConfig`` puts it there when ``tenants`` is set).

It answers for the tenant apps only, and returns None (Django asks the next router) for every
other model, so shared apps route exactly as without tenants:

- reads and writes of a tenant model go to the current tenant's database (``use_tenant``), or
  to the tenant database a related row was loaded from; with neither, ``NoTenantError``;
- a tenant whose database has replicas (``TenantsConfig.replica_url``) has its reads chosen by
  the package's router exactly as for a fixed primary (``DatabaseRouter.read_replicated``:
  read-your-writes, ``use_primary()``, atomic blocks, lag bounds, weights, breakers), and its
  writes mark this context for that tenant's database only;
- a connection is never used for a tenant database that was removed since it was opened (a
  move, a drop, ``max_open``): before returning an alias, this thread's superseded connections
  are closed (``registry.fresh_connection``; one lookup and comparison per query otherwise);
- a tenant row may reference a shared row (a ForeignKey from a tenant app to a shared app, which
  crosses databases like any other); rows of two tenants are never related;
- a tenant database holds the tenant apps' tables (and the delete intents), nothing else; no
  other database holds them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Model

from django_cfg.routing.router import DatabaseRouter
from django_cfg.runtime.runtime import DatabaseRuntime, current_runtime
from django_cfg.settings.tenant_names import TEMPLATE_ALIAS, TENANTS_SETTING, tenant_alias
from django_cfg.state.topology import TENANT_HOME
from django_cfg.tenants.context import current_tenant
from django_cfg.tenants.errors import NoTenantError
from django_cfg.tenants.registry import (
    TenantRegistry,
    current_registry,
    fresh_connection,
    tenant_database_of,
    tenant_of_alias,
)

__all__ = ["TenantRouter", "tenant_database"]


def tenant_database(model: type[Model], registry: TenantRegistry | None = None) -> str:
    """The database of ``model`` (a tenant app's) for the current tenant, opened if needed;
    ``registry``: ``current_registry()``, when the caller has it at hand."""
    name = current_tenant()
    if registry is None:
        registry = current_registry()
    if name is None or registry is None:
        meta = model._meta
        raise NoTenantError(
            f"{meta.label} lives in a tenant database (app {meta.app_label!r} is in "
            "TenantsConfig.apps) and no tenant is selected. Select one with "
            "`with use_tenant(name):` (or @use_tenant(name)), through the tenant middleware "
            "in a request, or name the database: .using('tenant_<name>')."
        )
    return registry.alias_for(name)


class TenantRouter:
    """Routes the tenant apps to the current tenant's database; None for every other app."""

    def __init__(self) -> None:
        self._runtime: DatabaseRuntime | None = None
        self._labels: frozenset[str] = frozenset()
        self._replicas = DatabaseRouter()  # chooses among a tenant database's replicas
        # Bound once (Django's loop looks them up per query), as DatabaseRouter's are.
        self.db_for_read = self.db_for_read  # type: ignore[method-assign]
        self.db_for_write = self.db_for_write  # type: ignore[method-assign]

    def _current(self) -> DatabaseRuntime:
        """The current runtime (opening a tenant rebuilds it)."""
        runtime = self._runtime
        if runtime is None or runtime.retired:
            self._tenant_labels()
            runtime = self._runtime
            assert runtime is not None
        return runtime

    def _registry(self) -> TenantRegistry | None:
        """The tenant registry, read from the runtime this router holds (the router runs for
        every tenant query: ``current_registry()`` when it is not there yet, or is another
        setting's)."""
        runtime = self._runtime
        registry = runtime.state.tenant_registry if runtime is not None else None
        if registry is None or registry.setting is not getattr(settings, TENANTS_SETTING, None):
            return current_registry()
        return registry  # type: ignore[no-any-return]

    def _tenant_labels(self) -> frozenset[str]:
        """The tenant apps' labels, recomputed when the database runtime was rebuilt."""
        runtime = self._runtime
        if runtime is None or runtime.retired:
            runtime = self._runtime = current_runtime()
            self._labels = frozenset(
                label for label, home in runtime.homes.items() if home == TENANT_HOME
            )
        return self._labels

    def db_for_read(
        self, model: type[Model], instance: Model | None = None, **hints: Any
    ) -> str | None:
        runtime = self._runtime  # inlined _tenant_labels: this runs for every shared query too
        labels = self._labels if runtime is not None and not runtime.retired else None
        if model._meta.app_label not in (labels or self._tenant_labels()):
            return None
        if instance is not None:
            db = instance._state.db
            if db is not None and tenant_database_of(db) is not None:
                # a relative of a row of that tenant (or its replica): there
                return fresh_connection(str(db), self._current())
        alias = tenant_database(model, self._registry())
        runtime = self._runtime
        if runtime is None or runtime.retired:  # opening the tenant rebuilt it
            runtime = self._current()
        if alias in runtime.replicated and not runtime.reads_primary(model):
            alias = self._replicas.read_replicated(runtime, alias)
        if runtime.state.tenant_connections.__dict__.get(alias) != runtime.removals:
            fresh_connection(alias, runtime)  # this thread's superseded ones closed
        return alias

    def db_for_write(
        self, model: type[Model], instance: Model | None = None, **hints: Any
    ) -> str | None:
        runtime = self._runtime
        labels = self._labels if runtime is not None and not runtime.retired else None
        if model._meta.app_label not in (labels or self._tenant_labels()):
            return None
        db = instance._state.db if instance is not None else None
        primary = tenant_database_of(db) if db is not None else None
        if primary is None:
            alias = tenant_database(model, self._registry())
        else:
            name = current_tenant()
            if name is not None and tenant_alias(name) != primary:
                raise ValueError(
                    f"A {model._meta.label} of tenant {name!r} cannot be related to a row of "
                    f"{db!r} ({type(instance).__name__}): rows of two tenants are never related."
                )
            alias = primary  # a relative of a row of that tenant (or its replica): its database
        runtime = self._runtime
        if runtime is None or runtime.retired:  # opening the tenant rebuilt it
            runtime = self._current()
        by_position = runtime.write_marks.get(alias)
        if by_position is not None:  # the tenant's database has replicas: read your writes
            runtime.pins.note_write(alias, by_position)
        if runtime.state.tenant_connections.__dict__.get(alias) != runtime.removals:
            fresh_connection(alias, runtime)  # this thread's superseded ones closed
        return alias

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        labels = self._tenant_labels()
        tenant1 = obj1._meta.app_label in labels
        tenant2 = obj2._meta.app_label in labels
        if not tenant1 and not tenant2:
            return None
        db1, db2 = obj1._state.db, obj2._state.db
        if db1 is None or db2 is None:
            return None
        if tenant1 and tenant2:  # never across tenants; a tenant's replica is that tenant
            return (tenant_database_of(db1) or db1) == (tenant_database_of(db2) or db2)
        if tenant_database_of(db1 if tenant1 else db2) is None:
            return False
        shared = obj2 if tenant1 else obj1
        runtime = current_runtime()
        home = runtime.homes.get(shared._meta.app_label, DEFAULT_DB_ALIAS)
        shared_db = db2 if tenant1 else db1
        return runtime.primary_of.get(shared_db, shared_db) == home

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        if (
            tenant_of_alias(db) is not None or db == TEMPLATE_ALIAS
        ) and current_registry() is not None:
            if app_label == "django_cfg":
                return model_name == "deleteintent"  # deletes that reach it record intents
            return app_label in self._tenant_labels()
        if app_label in self._tenant_labels():
            return False
        return None
