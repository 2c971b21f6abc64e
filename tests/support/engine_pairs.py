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


PAIRS = [
    pytest.param(
        Pair("lite", "default", "sqlite_blog"),
        marks=pytest.mark.django_db(databases=["default", "sqlite_blog"]),
        id="sqlite",
    ),
    pytest.param(
        Pair("pg", "postgres", "postgres_blog"),
        marks=[
            pytest.mark.postgres,
            pytest.mark.django_db(databases=["postgres", "postgres_blog"]),
        ],
        id="postgresql",
    ),
    pytest.param(
        Pair("maria", "mariadb", "mariadb_blog"),
        marks=[pytest.mark.mariadb, pytest.mark.django_db(databases=["mariadb", "mariadb_blog"])],
        id="mariadb",
    ),
]


def make_author(pair: Pair, name: str = "ada") -> Any:
    return pair.model("Person").objects.create(name=name)
