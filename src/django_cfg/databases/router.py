"""The Django router that sends each app's models to their home database.

``DjangoConfig`` installs it (after the user's own ``database_routers``) whenever more than one
database is configured; with hand-written settings, add it yourself:

    DATABASE_ROUTERS = ["django_cfg.databases.router.DatabaseRouter"]
    DATABASE_ROUTING_RULES = {"blog": "blog_db", "shop": "shop_db"}

It answers from plain dicts built once from the ``Topology``; it never reads settings per call.
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Model

from .topology import Topology, get_topology

__all__ = ["DatabaseRouter"]


class DatabaseRouter:
    """Home database per app label; replicas and read-only databases get no writes or tables."""

    def __init__(self, topology: Topology | None = None) -> None:
        topology = topology or get_topology()
        self._homes: dict[str, str] = dict(topology.homes)
        self._primary_of: dict[str, str] = {a: topology.primary_of(a) for a in topology.aliases}
        self._primaries = frozenset(a for a, role in topology.roles.items() if role.is_primary)
        self._migration_targets = frozenset(topology.migration_targets)
        self._cross_relations = topology.cross_database_relations

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        return self._route(model, hints.get("instance"), write=False)

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return self._route(model, hints.get("instance"), write=True)

    def _route(self, model: type[Model], instance: Model | None, write: bool) -> str:
        home = self._homes.get(model._meta.app_label, DEFAULT_DB_ALIAS)
        if instance is not None:
            # Rows of one home live together: a relative of a row loaded from another copy
            # (.using("archive"), or a replica for reads) is on that copy. Writes never go to a
            # replica or a read-only database.
            db = instance._state.db
            if (
                db is not None
                and db != home
                and (not write or db in self._primaries)
                and self._homes.get(instance._meta.app_label, DEFAULT_DB_ALIAS) == home
            ):
                return str(db)
        return home

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        db1, db2 = obj1._state.db, obj2._state.db
        if db1 is None or db2 is None:
            return None
        primary1 = self._primary_of.get(db1, db1)
        primary2 = self._primary_of.get(db2, db2)
        if primary1 == primary2:
            return True
        return self._cross_relations and primary1 in self._primaries and primary2 in self._primaries

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool:
        return db in self._migration_targets and self._homes.get(app_label, DEFAULT_DB_ALIAS) == db
