"""The cross-database test apps in pairs, one per engine: people on one database, posts on another.

``tests/apps/crossdb``: ``<engine>_people`` holds Person, ``<engine>_posts`` holds models pointing
at Person with each on_delete mode. ``PAIRS`` parametrizes a test over the three engines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.db import connections


@dataclass
class Pair:
    engine: str
    people: str  # alias of Person's database
    posts: str  # alias of the posts' database

    def model(self, name: str) -> Any:
        app = f"{self.engine}_people" if name == "Person" else f"{self.engine}_posts"
        return apps.get_model(app, name)

    def count(self, alias: str, model: str, where: str = "1 = 1") -> int:
        table = self.model(model)._meta.db_table
        with connections[alias].cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}")
            return int(cursor.fetchone()[0])


_ENGINES = {
    "sqlite": (Pair("lite", "default", "sqlite_blog"), []),
    "postgresql": (Pair("pg", "postgres", "postgres_blog"), [pytest.mark.postgres]),
    "mariadb": (Pair("maria", "mariadb", "mariadb_blog"), [pytest.mark.mariadb]),
}


def engine_pairs(*engines: str, also: tuple[str, ...] = ()) -> list[Any]:
    """``PAIRS`` of ``engines`` (all three if none), each test given the pair's two databases
    and the aliases ``also`` (e.g. ``default`` for the admin's user)."""
    params = []
    for engine in engines or tuple(_ENGINES):
        pair, marks = _ENGINES[engine]
        databases = list(dict.fromkeys([*also, pair.people, pair.posts]))
        django_db = pytest.mark.django_db(databases=databases)
        params.append(pytest.param(pair, marks=[*marks, django_db], id=engine))
    return params


PAIRS = engine_pairs()


def make_author(pair: Pair, name: str = "ada") -> Any:
    return pair.model("Person").objects.create(name=name)
