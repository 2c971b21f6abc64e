"""ForeignKeys between models whose apps live on different databases.

    class Post(models.Model):                         # app "blog" -> blog_db
        author = models.ForeignKey(                   # User -> default
            settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
            related_name="blog_posts")

For such a relation the package, once the app registry is ready (applied by
``django_cfg.patches``, the one module that changes Django's objects):

- drops the database constraint (``db_constraint=False``): no database can hold a constraint on
  a table that lives elsewhere, so makemigrations writes the field without one;
- runs ``on_delete`` on the related model's own database (``CrossDatabaseCollector``):
  CASCADE, SET_NULL, SET_DEFAULT, SET(...), PROTECT and RESTRICT behave as on one database;
- turns the raw "no such table" of a query that JOINs across databases into a
  ``CrossDatabaseJoinError`` that names both databases and the fix.

Relations that always need a JOIN (ManyToManyField, multi-table inheritance) cannot cross
databases; the system checks report them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from itertools import chain
from typing import Any, NamedTuple, cast

from django.apps import apps
from django.db import DatabaseError, NotSupportedError, transaction
from django.db.models import Field, Model, QuerySet
from django.db.models.deletion import Collector, RestrictedError

from django_cfg.relations import delete_intents, shared_delete
from django_cfg.routing.runtime import current_runtime
from django_cfg.routing.topology import TENANT_HOME, Topology, get_topology

__all__ = [
    "CrossDatabaseCollector",
    "CrossDatabaseJoinError",
    "CrossDatabaseRelation",
    "TableNotOnDatabaseError",
    "cross_database_relations",
    "join_error_wrapper",
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
    topology = topology or get_topology()
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
    topology = topology or get_topology()
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


# Deletion --------------------------------------------------------------------------------------


def _crossing_fields() -> frozenset[Field[Any, Any]]:
    runtime = current_runtime()  # its cache: recomputed when an app changes its home
    fields = runtime.crossing_fields
    if fields is None:
        fields = frozenset(r.field for r in cross_database_relations(runtime.topology))
        runtime.crossing_fields = fields
    return fields


def _database_of(objs: Any) -> str | None:
    if isinstance(objs, QuerySet):
        return objs.db
    for obj in objs:
        return obj._state.db  # type: ignore[no-any-return]
    return None


class CrossDatabaseCollector(Collector):
    """Django's deletion collector, extended to follow relations onto other databases.

    Objects on another database are handed to a collector for that database; all checks
    (PROTECT, RESTRICT) run before anything is deleted; deletes then run inside one transaction
    per database, the other databases' rows first, with the delete's intent recorded in each
    of them so that a crash between the commits is found and finished (``delete_intents``).
    """

    def __init__(self, using: str, origin: Any = None, **options: Any) -> None:
        # options: Django 6.1's force_collection (the admin's NestedObjects passes it).
        super().__init__(using, origin, **options)
        self._options = options
        self._foreign: dict[str, CrossDatabaseCollector] = {}

    def _collector_for(self, objs: Any) -> CrossDatabaseCollector:
        db = _database_of(objs)
        topology = get_topology()
        if db is None or topology.primary_of(db) == topology.primary_of(self.using):
            return self
        if db not in self._foreign:
            self._foreign[db] = type(self)(using=db, origin=self.origin, **self._options)
        return self._foreign[db]

    def related_objects(self, related_model: Any, related_fields: Any, objs: Any) -> Any:
        queryset = super().related_objects(related_model, related_fields, objs)
        crossing = _crossing_fields()
        if any(field in crossing for field in related_fields):
            home = get_topology().home(related_model._meta.app_label)
            if home == TENANT_HOME:
                # Rows of a tenant app: every tenant's, checked and changed tenant by tenant
                # when this collector deletes (shared_delete), not collected here.
                return queryset.none()
            return queryset.using(home)
        return queryset

    def can_fast_delete(self, objs: Any, from_field: Any = None) -> bool:
        if from_field is not None and from_field in _crossing_fields():
            return False  # collected (and maybe fast-deleted) by the other database's collector
        return super().can_fast_delete(objs, from_field)

    def collect(
        self,
        objs: Any,
        source: Any = None,
        nullable: bool = False,
        collect_related: bool = True,
        source_attr: str | None = None,
        reverse_dependency: bool = False,
        keep_parents: bool = False,
        fail_on_restricted: bool = True,
    ) -> None:
        collector = self._collector_for(objs)
        if collector is not self:
            collector.collect(
                objs,
                nullable=nullable,
                collect_related=collect_related,
                source_attr=source_attr,
                keep_parents=keep_parents,
                fail_on_restricted=False,
            )
            return
        super().collect(
            objs,
            source,
            nullable,
            collect_related,
            source_attr,
            reverse_dependency,
            keep_parents,
            fail_on_restricted,
        )
        if fail_on_restricted:
            for foreign in self._foreign_collectors():
                foreign._raise_if_restricted()

    def add_field_update(self, field: Any, value: Any, objs: Any) -> None:
        if isinstance(objs, QuerySet) and objs.query.is_empty():
            return  # SET_NULL of the tenant rows left to shared_delete (related_objects)
        collector = self._collector_for(objs)
        if collector is self:
            super().add_field_update(field, value, objs)
        else:
            collector.add_field_update(field, value, objs)

    def add_restricted_objects(self, field: Any, objs: Any) -> None:
        collector = self._collector_for(objs)
        if collector is self:
            super().add_restricted_objects(field, objs)
        else:
            collector.add_restricted_objects(field, objs)

    def add_dependency(self, model: Any, dependency: Any, reverse_dependency: bool = False) -> None:
        topology = get_topology()
        if topology.home(model._meta.app_label) == topology.home(dependency._meta.app_label):
            super().add_dependency(model, dependency, reverse_dependency)

    def _foreign_collectors(self) -> list[CrossDatabaseCollector]:
        found = []
        for foreign in self._foreign.values():
            found += [foreign, *foreign._foreign_collectors()]
        return found

    def _raise_if_restricted(self) -> None:
        """Django's end-of-collect RESTRICT check, for objects collected on this database."""
        data: dict[Any, Any] = self.data
        for model, instances in data.items():
            self.clear_restricted_objects_from_set(model, instances)
        for queryset in self.fast_deletes:
            self.clear_restricted_objects_from_queryset(queryset.model, queryset)
        restricted_objects: dict[Any, Any] = self.restricted_objects
        restricted = {
            f"'{model.__name__}.{field.name}'": objs
            for model, fields in restricted_objects.items()
            for field, objs in fields.items()
            if objs
        }
        if restricted:
            origin: Any = self.origin
            model_name = getattr(origin, "model", type(origin)).__name__
            raise RestrictedError(
                f"Cannot delete some instances of model {model_name!r} "
                f"because they are referenced through restricted foreign keys on database "
                f"{self.using!r}: {', '.join(restricted)}.",
                set(chain.from_iterable(restricted.values())),
            )

    def tenant_references(self) -> list[shared_delete.TenantReference]:
        """The tenant rows that reference the shared rows this delete removes (every tenant's:
        ``shared_delete``); none for a collector whose rows a recorded delete handles."""
        if delete_intents.recorded_elsewhere(self):
            return []
        data: dict[Any, list[Any]] = {}
        for collector in (self, *self._foreign_collectors()):
            for model, rows in collector.data.items():
                data.setdefault(model, []).extend(rows)
        return shared_delete.tenant_references(data)

    def delete(self) -> tuple[int, dict[str, int]]:
        references = self.tenant_references()
        if not self._foreign and not references:
            return super().delete()
        if references:
            delete_intents.finish_abandoned_sweeps(limit=delete_intents.SWEEPS_PER_DELETE)
            shared_delete.check_every_tenant(references, _collector_on)
        counts: Counter[str] = Counter()
        databases = dict.fromkeys([self.using, *(c.using for c in self._foreign_collectors())])
        with ExitStack() as stack:
            for db in databases:
                stack.enter_context(transaction.atomic(using=db, savepoint=False))
            # Crash safety: record what is deleted, in each database's transaction, first.
            intent = delete_intents.record_delete(self, list(databases), references)
            stack.callback(intent.close)
            for foreign in self._foreign.values():
                counts.update(foreign.delete()[1])
            counts.update(super().delete()[1])
        if references:  # once every database committed: every tenant, then forget the intent
            intent.before_removal = lambda: counts.update(
                shared_delete.sweep_every_tenant(references, _collector_on)
            )
        intent.finish()  # every database committed: forget the intent
        return sum(counts.values()), dict(counts)


def _collector_on(alias: str) -> CrossDatabaseCollector:
    """A collector for one tenant's rows (``shared_delete``)."""
    return CrossDatabaseCollector(using=alias)


# Queries that would JOIN across databases -------------------------------------------------------


class CrossDatabaseJoinError(NotSupportedError):
    """A query on one database needs a table that lives on another database."""


class TableNotOnDatabaseError(DatabaseError):
    """A query went to a database that does not hold its model's table (no JOIN involved):
    ``User.objects.using("blog_db")``, ``createsuperuser --database blog_db``.

    What is raised is also an instance of the error the backend raised (SQLite's
    ``OperationalError``, PostgreSQL's and MySQL's ``ProgrammingError``), so that code written
    against the backend's error keeps catching it::

        try:
            User.objects.using("blog_db").count()
        except OperationalError:  # on SQLite; ProgrammingError on PostgreSQL
            ...
    """

    def __reduce__(self) -> tuple[Any, ...]:  # pickles (multiprocessing, celery) by its parts
        original = next(
            base for base in type(self).__bases__ if base is not TableNotOnDatabaseError
        )
        return (_rebuilt_table_error, (original, self.args))


_TABLE_ERROR_CLASSES: dict[type[DatabaseError], type[TableNotOnDatabaseError]] = {}


def _table_error_class(original: type[DatabaseError]) -> type[TableNotOnDatabaseError]:
    """``TableNotOnDatabaseError`` that is also an ``original``; one class per original class."""
    if issubclass(original, TableNotOnDatabaseError):
        return original
    made = _TABLE_ERROR_CLASSES.get(original)
    if made is None:
        bases = (original, TableNotOnDatabaseError)
        namespace = {"__module__": __name__, "__qualname__": TableNotOnDatabaseError.__qualname__}
        made = _TABLE_ERROR_CLASSES.setdefault(
            original,
            cast(type[TableNotOnDatabaseError], type("TableNotOnDatabaseError", bases, namespace)),
        )
    return made


def _rebuilt_table_error(original: type[DatabaseError], args: tuple[Any, ...]) -> DatabaseError:
    return _table_error_class(original)(*args)


_QUOTED_NAME = re.compile(r"[\"`]([^\"`]+)[\"`]")
# What each engine says when a query names a table this database does not have.
_MISSING_TABLE_MESSAGES = (
    "no such table",  # SQLite
    "does not exist",  # PostgreSQL: relation "x" does not exist
    "doesn't exist",  # MySQL, MariaDB (1146)
)


def _tables_elsewhere(alias: str, topology: Topology) -> dict[str, str]:
    """``{db_table: its home}`` for every model table that does not live on ``alias``.

    Computed once per alias and runtime (kept by a rebuild that moves no app): it is asked at
    every new connection.
    """
    runtime = current_runtime()
    cache = runtime.tables_elsewhere if runtime.topology is topology else {}
    tables = cache.get(alias)
    if tables is None:
        here = _homes_held(alias, topology)
        tables = cache[alias] = {
            model._meta.db_table: home
            for model in apps.get_models(include_auto_created=True)
            if (home := topology.home(model._meta.app_label)) not in here
        }
    return tables


def _homes_held(alias: str, topology: Topology) -> set[str]:
    """The homes whose tables ``alias`` holds: its primary's, and its original's for a copy."""
    original = topology.copy_of(alias)
    return {topology.primary_of(alias), *([original] if original else [])}


def _table(model: Any) -> str:
    return str(model._meta.db_table)


def explain_cross_database_join(alias: str, sql: str) -> str | None:
    """Why ``sql`` cannot run on ``alias`` and what to do instead; None if not a JOIN across."""
    topology = get_topology()
    elsewhere = _tables_elsewhere(alias, topology)
    missing = [name for name in dict.fromkeys(_QUOTED_NAME.findall(sql)) if name in elsewhere]
    if not missing:
        return None
    tables = ", ".join(f"{table} (on {elsewhere[table]!r})" for table in missing)
    here = topology.primary_of(alias)
    relations = [
        r
        for r in cross_database_relations(topology)
        if (r.database == here and _table(r.field.related_model) in missing)
        or (r.target_database == here and _table(r.field.model) in missing)
    ]
    via = "".join(f"\n  relation {r.describe()}" for r in relations)
    example = relations[0].field.name if relations else "author"
    return (
        f"This query runs on database {alias!r} but needs {tables}: a JOIN cannot cross "
        f"databases.{via}\nLoad the related rows with a second query instead: "
        f"prefetch_related({example!r}) rather than select_related({example!r}); filter in two "
        f"steps, e.g. .filter({example}__in=list(<the other model's queryset>)), rather than "
        f"through the relation ({example}__<field>=...)."
    )


def explain_table_not_on_database(alias: str, sql: str) -> str | None:
    """Why ``sql`` cannot run on ``alias`` when every table it names lives on one other database:
    the query was sent to the wrong database. None when it also names a table of ``alias`` (a
    JOIN across databases) or its tables live on several databases."""
    topology = get_topology()
    elsewhere = _tables_elsewhere(alias, topology)
    named = list(dict.fromkeys(_QUOTED_NAME.findall(sql)))
    missing = [name for name in named if name in elsewhere]
    homes = {elsewhere[name] for name in missing}
    here = topology.primary_of(alias)
    held = _homes_held(alias, topology)
    tables_here = {
        _table(model)
        for model in apps.get_models(include_auto_created=True)
        if topology.home(model._meta.app_label) in held
    }
    if len(homes) != 1 or tables_here.intersection(named):
        return None
    home = homes.pop()
    models = {_table(m): m._meta.label for m in apps.get_models(include_auto_created=True)}
    needed = ", ".join(f"{models.get(table, table)} (table {table})" for table in missing)
    where = alias if here == alias else f"{alias} (a replica of {here!r})"
    return (
        f"{needed} lives on database {home!r}, but this query was sent to {where!r}, which does "
        f"not hold that table. No JOIN is involved: the query went to the wrong database.\n"
        f"Send it to {home!r}: drop .using({alias!r}) and let the router choose (it sends "
        f"{models.get(missing[0], missing[0])} to {home!r}), or write .using({home!r}); in "
        f"management commands, pass --database {home} (createsuperuser, changepassword, "
        "dumpdata, loaddata) or use dumpdata_all / loaddata_all for every database."
    )


def _explain_failures(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    try:
        return execute(sql, params, many, context)
    except DatabaseError as error:
        if not any(message in str(error) for message in _MISSING_TABLE_MESSAGES):
            raise
        alias = context["connection"].alias
        wrong_database = explain_table_not_on_database(alias, sql)
        if wrong_database is not None:
            raise _table_error_class(type(error))(wrong_database) from error
        explanation = explain_cross_database_join(alias, sql)
        if explanation is None:
            raise
        raise CrossDatabaseJoinError(explanation) from error


def join_error_wrapper(alias: str) -> Callable[..., Any] | None:
    """The execute wrapper that explains a table missing on ``alias`` (a JOIN across databases,
    or a query sent to the wrong database); None when ``alias`` holds every model's table.

    ``django_cfg.patches`` installs it on each new connection.
    """
    return _explain_failures if _tables_elsewhere(alias, get_topology()) else None
