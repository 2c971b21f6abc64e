"""Queries sent to a database that lacks a table they need, explained.

    Post.objects.select_related("author")   # blog_db has no accounts_user
    # CrossDatabaseJoinError: This query runs on database 'blog_db' but needs accounts_user
    # (on 'default'): a JOIN cannot cross databases. ...

``join_error_wrapper(alias)`` is put on each new connection of a database that lacks some
model's table (``django_cfg.patches``, patch 5); it turns the backend's raw "no such table"
into ``CrossDatabaseJoinError`` (a JOIN across databases) or ``TableNotOnDatabaseError`` (a
query sent to the wrong database), each naming both databases and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, cast

from django.apps import apps
from django.db import DatabaseError, NotSupportedError

from django_cfg.relations.crossing import cross_database_relations
from django_cfg.routing.explained_errors import explaining_wrapper
from django_cfg.runtime.runtime import current_runtime
from django_cfg.state.topology import Topology

__all__ = ["CrossDatabaseJoinError", "TableNotOnDatabaseError", "join_error_wrapper"]


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
    topology = current_runtime().topology
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
    topology = current_runtime().topology
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


def _explain(alias: str, sql: str, error: DatabaseError) -> Exception | None:
    wrong_database = explain_table_not_on_database(alias, sql)
    if wrong_database is not None:
        return _table_error_class(type(error))(wrong_database)
    explanation = explain_cross_database_join(alias, sql)
    return CrossDatabaseJoinError(explanation) if explanation is not None else None


_explain_failures = explaining_wrapper(_MISSING_TABLE_MESSAGES, _explain)


def join_error_wrapper(alias: str) -> Callable[..., Any] | None:
    """The execute wrapper that explains a table missing on ``alias`` (a JOIN across databases,
    or a query sent to the wrong database); None when ``alias`` holds every model's table.

    ``django_cfg.patches`` installs it on each new connection.
    """
    return _explain_failures if _tables_elsewhere(alias, current_runtime().topology) else None
