"""The specification's ``databases["replica"]`` (no ``replica_of``) is a replica of ``default``.

The spec's advanced config adds ``databases["replica"] = DatabaseConfig.from_url(url=...)`` when
``DATABASE__URL_REPLICA`` is set. It is run verbatim here; which database serves a read, where a
write lands, what ``db_status`` and ``check`` say are read from the files and the commands.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.checks import Warning

from django_cfg import DatabaseConfig, DjangoConfig
from django_cfg.checks.replicas import replica_name_warnings
from django_cfg.state.topology import Topology
from tests.support.spec_page import MANAGE_PY, SpecProject, block, run_python

MULTI = "Multi-Database Setup (Advanced)"
LOADER = block("python", MULTI, "# api/environment/loader.py")
CONFIG = block("python", MULTI, "# api/config.py")


def sqlite(name: str, **fields: object) -> DatabaseConfig:
    return DatabaseConfig.from_url(f"sqlite:///{name}.sqlite3", **fields)  # type: ignore[arg-type]


def roles(**databases: DatabaseConfig) -> dict[str, object]:
    class Config(DjangoConfig):
        pass

    return Config(databases=databases).database_roles  # type: ignore[arg-type]


# --- the naming convention, on DjangoConfig ------------------------------------------------------


def test_the_spec_config_block_is_the_one_tested() -> None:
    assert 'databases["replica"] = DatabaseConfig.from_url(url=env.database.url_replica)' in CONFIG
    assert "replica_of" not in CONFIG


@pytest.mark.parametrize(
    ("alias", "primary"),
    [
        ("replica", "default"),
        ("replica_db", "default"),  # databases_from_urls: url_replica -> replica_db
        ("default_replica", "default"),
        ("blog_db_replica", "blog_db"),
        ("blog_replica", "blog_db"),
        ("blog_replica_db", "blog_db"),  # databases_from_urls: url_blog_replica
    ],
)
def test_an_alias_named_like_a_replica_becomes_a_replica_of_its_primary(alias, primary) -> None:
    found = roles(default=sqlite("a"), blog_db=sqlite("b", apps=["blog"]), **{alias: sqlite("r")})
    assert found[alias] == {"replica_of": primary, "read_weight": 1.0}


def test_the_inferred_replica_renders_like_a_declared_one() -> None:
    class Config(DjangoConfig):
        databases = {
            "default": DatabaseConfig.from_url("postgresql://app@primary/main"),
            "replica": DatabaseConfig.from_url("postgresql://ro@standby/main"),
        }

    settings = Config().get_all_settings()
    assert settings["DATABASES"]["replica"]["TEST"] == {"MIRROR": "default"}
    assert settings["DATABASES"]["replica"]["ENGINE"] == "django_cfg.backends.replica_postgresql"
    assert "django_cfg.replicas.pinning.ReadYourWritesMiddleware" in settings["MIDDLEWARE"]


@pytest.mark.parametrize(
    ("replica", "role"),
    [
        pytest.param(sqlite("r", replica_of=None), {"replica_of": None}, id="replica_of=None"),
        pytest.param(sqlite("r", apps=["blog"]), {"apps": ["blog"]}, id="home of an app"),
        pytest.param(sqlite("r", read_only=True), {"read_only": True}, id="read_only"),
    ],
)
def test_a_database_that_declares_its_role_keeps_it(replica: DatabaseConfig, role) -> None:
    assert roles(default=sqlite("a"), replica=replica) == {"replica": role}


def test_other_names_and_missing_primaries_are_not_guessed() -> None:
    found = roles(default=sqlite("a"), replicas=sqlite("b"), orders_replica=sqlite("c"))
    assert found == {}  # 'replicas' is not the convention; 'orders' is not configured


# --- the warning, for settings that no DjangoConfig inferred ------------------------------------


def check_hand_written(aliases: list[str], roles: dict[str, Any] | None = None) -> list[Any]:
    """What check W040 says of DATABASES with these aliases and this DATABASE_ROLES."""
    settings = SimpleNamespace(
        DATABASES={alias: {} for alias in aliases}, DATABASE_ROLES=roles or {}
    )
    return replica_name_warnings(Topology.from_settings(settings, {}), roles or {})


def test_hand_written_replica_without_role_is_a_warning_with_the_fix() -> None:
    messages = check_hand_written(["default", "replica"])
    assert [(type(m), m.id) for m in messages] == [(Warning, "django_cfg.W040")]
    assert "'replica' is named like a read replica" in messages[0].msg
    assert "no reads go to it" in messages[0].msg
    assert "replica_of='default'" in messages[0].hint
    assert "replica_of=None" in messages[0].hint


def test_a_replica_name_whose_primary_is_missing_is_a_warning() -> None:
    [message] = check_hand_written(["default", "orders_replica"])
    assert "its primary 'orders' is not in DATABASES" in message.msg


@pytest.mark.parametrize(
    "declared",
    [{"replica": {"replica_of": "default"}}, {"replica": {"replica_of": None}}],
    ids=["replica", "primary on purpose"],
)
def test_a_declared_role_silences_the_warning(declared) -> None:
    assert check_hand_written(["default", "replica"], declared) == []


def test_the_check_runs_with_the_project_checks() -> None:
    from django.core.checks import run_checks

    from django_cfg.checks.tag import TAG

    # The package's checks only: Django 6.1's own model checks read MySQL's server version
    # through a connection, which a test without database access may not open.
    found = run_checks(tags=[TAG])
    assert not [m for m in found if m.id == "django_cfg.W040"]  # the suite declares roles


# --- the spec's advanced config, verbatim, as a user runs it --------------------------------------


def spec_project(root: Path) -> Path:
    project = SpecProject(root)
    project.write("manage.py", MANAGE_PY)
    project.write_project(LOADER, CONFIG)
    return root


READ_AND_WRITE = """
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
kinds = ContentType.objects.all()  # an ordinary model: auth reads its primary (docs/replicas.md)
print("read from:", kinds.db)
print("only on the replica file:", kinds.filter(app_label="replicated-only").exists())
print("users read from:", User.objects.all().db)
User.objects.create_user(username="written")
print("written to:", User.objects.get(username="written")._state.db)
"""


def users(database: Path) -> list[str]:
    with closing(sqlite3.connect(database)) as connection:
        return [row[0] for row in connection.execute("SELECT username FROM auth_user")]


def test_spec_config_with_url_replica_reads_from_the_replica_on_sqlite(tmp_path: Path) -> None:
    root = spec_project(tmp_path / "project")
    env = {"DATABASE__URL_REPLICA": "sqlite:///db/replica.sqlite3"}
    run_python("manage.py", "migrate_all", cwd=root, env=env)
    # "Replication": the replica file is a copy of the primary, plus one row only it has.
    shutil.copy(root / "db" / "default.sqlite3", root / "db" / "replica.sqlite3")
    with closing(sqlite3.connect(root / "db" / "replica.sqlite3")) as connection:
        connection.execute(
            "INSERT INTO django_content_type (app_label, model) VALUES ('replicated-only', 'row')"
        )
        connection.commit()

    output = run_python("manage.py", "shell", "-c", READ_AND_WRITE, cwd=root, env=env)

    assert "read from: replica" in output
    assert "only on the replica file: True" in output  # the row came from the replica file
    assert "users read from: default" in output  # replica_primary_reads: auth
    assert users(root / "db" / "default.sqlite3") == ["written"]  # writes go to the primary
    assert users(root / "db" / "replica.sqlite3") == []
    assert "written to: default" in output

    status = run_python("manage.py", "db_status", cwd=root, env=env)
    replica_block = status.split("replica ", 1)[1]
    assert "role: replica of default" in replica_block
    check = run_python("manage.py", "check", cwd=root, env=env)
    assert "System check identified no issues" in check


def test_spec_config_without_url_replica_has_one_database(tmp_path: Path) -> None:
    root = spec_project(tmp_path / "project")
    run_python("manage.py", "migrate_all", cwd=root)
    status = run_python("manage.py", "db_status", cwd=root)
    assert "role: primary" in status
    assert not [line for line in status.splitlines() if line.startswith("replica")]


@pytest.mark.postgres
@pytest.mark.replica
def test_spec_config_reads_from_the_real_streaming_replica(tmp_path: Path, scratch_postgres):
    from tests.support.replica_tools import wait_for_replica

    root = spec_project(tmp_path / "project")
    env = {
        "DATABASE__URL": scratch_postgres,
        "DATABASE__URL_REPLICA": scratch_postgres.replace(":5432/", ":5433/"),
    }
    run_python("manage.py", "migrate_all", cwd=root, env=env)
    wait_for_replica()
    probe = (
        "from django.contrib.contenttypes.models import ContentType\n"
        "from django.db import connections\n"
        "kinds = ContentType.objects.all(); print('count', kinds.count() > 0)\n"
        "with connections[kinds.db].cursor() as cursor:\n"
        "    cursor.execute('SELECT pg_is_in_recovery()'); print('standby', cursor.fetchone()[0])\n"
    )
    output = run_python("manage.py", "shell", "-c", probe, cwd=root, env=env)
    assert "count True" in output
    assert "standby True" in output  # the read was served by the streaming replica
    status = run_python("manage.py", "db_status", cwd=root, env=env)
    assert "role: replica of default" in status.split("replica ", 1)[1]
