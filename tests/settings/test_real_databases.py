"""The settings DjangoConfig renders connect for real: SQLite, PostgreSQL 5432, MariaDB 3306."""

from __future__ import annotations

import sqlite3
import uuid
from contextlib import closing
from pathlib import Path

import pytest
from django.apps import apps
from django.db import connections

from django_cfg import DatabaseConfig
from tests.support.spec_page import MANAGE_PY, SpecProject, block, run_python

ALIASES = ["default", "postgres", "mariadb"]
ROUND_TRIPS = [
    pytest.param("lite_people", "default", "sqlite", id="sqlite"),
    pytest.param(
        "pg_people", "postgres", "postgresql", marks=pytest.mark.postgres, id="postgresql"
    ),
    pytest.param("maria_people", "mariadb", "mysql", marks=pytest.mark.mariadb, id="mariadb"),
]


@pytest.mark.parametrize(("app", "alias", "vendor"), ROUND_TRIPS)
@pytest.mark.django_db(databases=ALIASES)
def test_model_round_trip_lands_in_the_routed_database(app: str, alias: str, vendor: str) -> None:
    person_model = apps.get_model(app, "Person")
    name = f"round trip {uuid.uuid4().hex[:12]}"
    created = person_model.objects.create(name=name)  # no .using(): the router decides

    assert created._state.db == alias
    assert connections[alias].vendor == vendor
    with connections[alias].cursor() as cursor:
        cursor.execute(f"SELECT name FROM {app}_person WHERE id = %s", [created.pk])
        assert cursor.fetchone() == (name,)
    assert person_model.objects.get(pk=created.pk).name == name
    for other in (a for a in ALIASES if a != alias):
        with connections[other].cursor() as cursor:
            tables = connections[other].introspection.table_names(cursor)
        assert f"{app}_person" not in tables  # its table exists on its home only


# --- the spec's own project, run as a user would: manage.py migrate, then a row ------------------


def spec_project(root: Path) -> Path:
    project = SpecProject(root / "project")
    project.write("manage.py", MANAGE_PY)
    project.write_project(
        block("python", "Multi-Database Setup (Advanced)", "# api/environment/loader.py"),
        block("python", "Multi-Database Setup (Advanced)", "# api/config.py"),
    )
    return project.root


def manage(project: Path, *args: str, database_url: str | None, cwd: Path) -> str:
    return run_python(str(project / "manage.py"), *args, cwd=cwd, database_url=database_url)


CREATE_JOHN = (
    "from django.contrib.auth import get_user_model; "
    "get_user_model().objects.create_user(username='john', email='john@example.com')"
)


def test_spec_project_on_sqlite_writes_the_file_under_the_project_not_the_cwd(tmp_path) -> None:
    project = spec_project(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    manage(project, "migrate", "--noinput", database_url=None, cwd=elsewhere)
    manage(project, "shell", "-c", CREATE_JOHN, database_url=None, cwd=elsewhere)
    database_file = project / "db" / "default.sqlite3"
    with closing(sqlite3.connect(database_file)) as connection:
        assert connection.execute("SELECT username FROM auth_user").fetchall() == [("john",)]
    assert not (elsewhere / "db").exists()


@pytest.mark.postgres
def test_spec_project_on_postgresql_from_database_url(tmp_path, scratch_postgres) -> None:
    import psycopg

    project = spec_project(tmp_path)
    manage(project, "migrate", "--noinput", database_url=scratch_postgres, cwd=project)
    manage(project, "shell", "-c", CREATE_JOHN, database_url=scratch_postgres, cwd=project)
    with psycopg.connect(scratch_postgres) as connection:
        rows = connection.execute("SELECT username, email FROM auth_user").fetchall()
    assert rows == [("john", "john@example.com")]
    assert not (project / "db").exists()  # nothing fell back to SQLite


@pytest.mark.mariadb
def test_spec_project_on_mariadb_from_database_url(tmp_path, scratch_mariadb) -> None:
    import MySQLdb

    project = spec_project(tmp_path)
    manage(project, "migrate", "--noinput", database_url=scratch_mariadb, cwd=project)
    manage(project, "shell", "-c", CREATE_JOHN, database_url=scratch_mariadb, cwd=project)
    settings = DatabaseConfig.from_url(scratch_mariadb)
    connection = MySQLdb.connect(
        host=settings.host, port=settings.port or 3306, user=settings.user, database=settings.name
    )
    with closing(connection):
        cursor = connection.cursor()
        cursor.execute("SELECT username, email FROM auth_user")
        assert cursor.fetchall() == (("john", "john@example.com"),)
