"""Django 6.1's database-level on_delete (DB_CASCADE, DB_SET_NULL) on a cross-database ForeignKey.

The database carries them out through the foreign key constraint, which cannot exist across
databases: check django_cfg.E041 refuses them and names the fix. Run in a small project of its
own (people on default, notes on notes_db) with ``manage.py``, as a user would.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import django
import pytest

from tests.support.spec_page import MANAGE_PY, run_python

needs_django_61 = pytest.mark.skipif(
    django.VERSION < (6, 1),
    reason=f"Django {django.get_version()} has no database-level on_delete (DB_CASCADE and "
    "DB_SET_NULL come with Django 6.1); this is a Django version skip, not a missing service",
)

CONFIG = """\
from django_cfg import DatabaseConfig, DjangoConfig


class Config(DjangoConfig):
    project_apps = ["people", "notes"]
    databases = {
        "default": DatabaseConfig.from_url("sqlite:///db/default.sqlite3"),
        "notes_db": DatabaseConfig.from_url("sqlite:///db/notes.sqlite3", apps=["notes"]),
    }


globals().update(Config().get_all_settings())
SILENCED_SYSTEM_CHECKS = __SILENCED__
"""

PEOPLE = """\
from django.db import models


class Person(models.Model):
    name = models.CharField(max_length=50)
"""

NOTES = """\
from django.db import models


class Note(models.Model):
    text = models.CharField(max_length=50)
    person = models.ForeignKey("people.Person", null=True, on_delete=models.{on_delete})
"""


def project(root: Path, on_delete: str, silenced: tuple[str, ...] = ()) -> Path:
    files = {
        "manage.py": MANAGE_PY,
        "settings.py": CONFIG.replace("__SILENCED__", repr(list(silenced))),
        "people/__init__.py": "",
        "people/models.py": PEOPLE,
        "notes/__init__.py": "",
        "notes/models.py": NOTES.format(on_delete=on_delete),
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@needs_django_61
@pytest.mark.parametrize(
    ("on_delete", "fix"), [("DB_CASCADE", "CASCADE"), ("DB_SET_NULL", "SET_NULL")]
)
def test_database_on_delete_across_databases_fails_the_check(tmp_path, on_delete, fix) -> None:
    root = project(tmp_path, on_delete)
    output = run_python("manage.py", "check", cwd=root, check=False)

    assert "notes.Note.person: (django_cfg.E041)" in output
    assert (
        f"notes.Note.person (notes_db) -> people.Person (default): on_delete={on_delete} is "
        "carried out by the database's foreign key constraint, which cannot exist across "
        "databases" in output
    )
    assert f"HINT: Use on_delete=models.{fix}: django_cfg runs it on 'notes_db'" in output
    assert "System check identified 1 issue" in output


def test_the_python_level_fix_passes_the_check_and_deletes_across(tmp_path) -> None:
    root = project(tmp_path, "CASCADE")
    assert "no issues" in run_python("manage.py", "check", cwd=root)
    assert notes_left_after_deleting_the_person(root) == 0


@needs_django_61
def test_why_the_check_exists_a_silenced_db_cascade_leaves_the_row(tmp_path) -> None:
    root = project(tmp_path, "DB_CASCADE", silenced=("django_cfg.E041",))
    assert notes_left_after_deleting_the_person(root) == 1  # nothing deleted it on notes_db


def notes_left_after_deleting_the_person(root: Path) -> int:
    run_python("manage.py", "makemigrations", "people", "notes", cwd=root)
    run_python("manage.py", "migrate_all", cwd=root)
    script = (
        "from people.models import Person; from notes.models import Note\n"
        "ada = Person.objects.create(name='ada'); Note.objects.create(text='n', person=ada)\n"
        "ada.delete()\n"
    )
    run_python("manage.py", "shell", "-c", script, cwd=root)
    with closing(sqlite3.connect(root / "db" / "default.sqlite3")) as people:
        assert people.execute("SELECT COUNT(*) FROM people_person").fetchone() == (0,)
    with closing(sqlite3.connect(root / "db" / "notes.sqlite3")) as notes:
        return int(notes.execute("SELECT COUNT(*) FROM notes_note").fetchone()[0])
