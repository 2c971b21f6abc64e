"""ForeignKeys between models whose apps live on different databases: which ones cross.

    class Post(models.Model):                         # app "blog" -> blog_db
        author = models.ForeignKey(                   # User -> default
            settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
            related_name="blog_posts")

    cross_database_relations()    # (CrossDatabaseRelation(Post.author, blog -> default), ...)

For such a relation the package, once the app registry is ready (applied by
``django_cfg.patches``, the one module that changes Django's objects):

- drops the database constraint (``db_constraint=False``): no database can hold a constraint on
  a table that lives elsewhere, so makemigrations writes the field without one;
- runs ``on_delete`` on the related model's own database (``relations.collector``):
  CASCADE, SET_NULL, SET_DEFAULT, SET(...), PROTECT and RESTRICT behave as on one database;
- turns the raw "no such table" of a query that JOINs across databases into a
  ``CrossDatabaseJoinError`` that names both databases and the fix
  (``relations.wrong_database_errors``).

Relations that always need a JOIN (ManyToManyField, multi-table inheritance) cannot cross
databases; the system checks report them.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain
from typing import Any, NamedTuple, cast

from django.apps import apps
from django.db.models import Field, Model

from django_cfg.runtime.runtime import current_runtime
from django_cfg.state.topology import Topology

__all__ = [
    "CrossDatabaseRelation",
    "cross_database_relations",
    "crossing_fields",
    "joined_cross_database_relations",
]


class CrossDatabaseRelation(NamedTuple):
    """A relation field whose model and target live on different home databases."""

    field: Field[Any, Any]
    database: str
    target_database: str

    @property
    def label(self) -> str:
        """``blog.Post.author``."""
        return f"{self.field.model._meta.label}.{self.field.name}"

    @property
    def target_label(self) -> str:
        """``auth.User``."""
        return cast("type[Model]", self.field.related_model)._meta.label

    def describe(self) -> str:
        """``blog.Post.author (blog_db) -> auth.User (default)``."""
        return f"{self.label} ({self.database}) -> {self.target_label} ({self.target_database})"


def _crossing(model: type[Model], fields: Iterable[Any], topology: Topology):  # type: ignore[no-untyped-def]
    home = topology.home(model._meta.app_label)
    for field in fields:
        target = field.related_model
        if target is None or isinstance(target, str):
            continue
        target_home = topology.home(target._meta.app_label)
        if target_home != home:
            yield CrossDatabaseRelation(field, home, target_home)


def cross_database_relations(topology: Topology | None = None) -> tuple[CrossDatabaseRelation, ...]:
    """Every ForeignKey / OneToOneField (not a parent link) that crosses databases."""
    topology = topology or current_runtime().topology
    found: list[CrossDatabaseRelation] = []
    for model in apps.get_models():
        fields = (
            f
            for f in model._meta.local_fields
            if f.is_relation and f.concrete and not getattr(f.remote_field, "parent_link", False)
        )
        found.extend(_crossing(model, fields, topology))
    return tuple(found)


def joined_cross_database_relations(
    topology: Topology | None = None,
) -> tuple[CrossDatabaseRelation, ...]:
    """Relations that Django always reads with a JOIN (ManyToMany, parent links) and that cross."""
    topology = topology or current_runtime().topology
    found: list[CrossDatabaseRelation] = []
    for model in apps.get_models():
        parent_links = (
            f
            for f in model._meta.local_fields
            if f.is_relation and getattr(f.remote_field, "parent_link", False)
        )
        found.extend(
            _crossing(model, chain(model._meta.local_many_to_many, parent_links), topology)
        )
    return tuple(found)


def crossing_fields() -> frozenset[Field[Any, Any]]:
    """The relation fields that cross databases (cached on the runtime)."""
    runtime = current_runtime()  # its cache: recomputed when an app changes its home
    fields = runtime.crossing_fields
    if fields is None:
        fields = frozenset(r.field for r in cross_database_relations(runtime.topology))
        runtime.crossing_fields = fields
    return fields
