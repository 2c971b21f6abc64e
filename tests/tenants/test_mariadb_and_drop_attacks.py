"""Attacks on tenants created by migrating on MariaDB (no template copy there: the shared plan
of django_cfg.schema.shared_plan), and on ``drop_tenant`` of a half-created tenant, with real
processes of a copy of benchmarks/tenant_project whose tenants are the tenants table's rows
(tests/tenants/test_clone_attacks.py's ``Project``; on MariaDB the tenants table lives on
MariaDB too, so the name lock is ``GET_LOCK``):

A. MariaDB: creations at once (one name, several names); a creation while ``migrate_all``
   runs (held half way through a tenant); ``create_tenant`` killed (SIGKILL) at points inside
   it, then run again, then ``migrate_all``; two ``migrate_all`` at once. Every tenant must end
   as Django's ``migrate`` leaves a fresh database (tables, columns, indexes, constraints and
   ``django_migrations`` rows, read from information_schema), with a ready row, and no database
   left beside the tenants.
B. SQLite, PostgreSQL, MariaDB: ``create_tenant`` killed at points inside it, then
   ``drop_tenant NAME --drop-database`` (the command) or ``drop_tenant(name,
   drop_database=True)`` (the Python API): the row and the database are gone, nothing staged
   is left, and ``create_tenant NAME`` gives a fresh migrated database. ``drop_tenant`` while a
   creation of the name runs is refused (``tenants.name_lock``), and the creation finishes.
"""

from __future__ import annotations

import json
import re
import secrets
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.support.services import MARIADB_URL, sibling_url
from tests.support.subprocess_project import server_rows
from tests.tenants.project_support import drop_server_database, server_databases
from tests.tenants.test_clone_attacks import COPIED, SQLITE_TEMPLATE_POINTS, Project, wait_for

LIFECYCLE = "django_cfg.tenants.lifecycle"

# ARGS run in a process of the project with a hook (HOOK_SPEC, JSON) at one point: {"kind":
# "sql", "pattern": regex of a statement} or {"kind": "call", "target": "module:attr",
# "pattern": regex of its arguments' repr}; "nth": the nth match; "when": "before" | "after";
# "action": "kill" (SIGKILL of itself) or "hold" (touch FOLDER/held, wait for FOLDER/release).
# ARGS: a management command and its arguments, or "drop_tenant()" NAME: the Python API's
# drop_tenant(NAME, drop_database=True), its outcome printed as JSON (exit 3: refused).
HOOK = """import importlib
import json
import os
import re
import signal
import sqlite3
import sys
import time
from pathlib import Path

import django

django.setup()
spec = json.loads(os.environ.get("HOOK_SPEC") or "{}")
seen = [0]


def hit(text):
    if re.search(spec.get("pattern", ""), text):
        seen[0] += 1
        return seen[0] == spec.get("nth", 1)
    return False


def act():
    if spec["action"] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    folder = Path(spec["folder"])
    (folder / "held").touch()
    for _ in range(6000):
        if (folder / "release").exists():
            return
        time.sleep(0.05)
    raise SystemExit("never released")


def wrap(original, text_of):
    def wrapper(*args, **kwargs):
        match = hit(text_of(args))
        if match and spec.get("when") == "before":
            act()
        result = original(*args, **kwargs)
        if match and spec.get("when", "after") == "after":
            act()
        return result

    return wrapper


if spec.get("kind") == "sql":
    from django.db.backends import utils

    utils.CursorWrapper.execute = wrap(utils.CursorWrapper.execute, lambda args: str(args[1]))
elif spec.get("kind") == "call":
    module_name, _, attr = spec["target"].partition(":")
    module = importlib.import_module(module_name)
    setattr(module, attr, wrap(getattr(module, attr), repr))

command, *rest = sys.argv[1:]
if command == "drop_tenant()":
    from django_cfg.tenants import TenantLifecycleError, drop_tenant

    try:
        dropped = drop_tenant(rest[0], drop_database=True)
    except TenantLifecycleError as error:
        print(json.dumps({"refused": type(error).__name__, "message": str(error)}))
        sys.exit(3)
    print(json.dumps({"dropped": dropped.dropped, "database": dropped.database}))
else:
    from django.core.management import call_command

    call_command(command, *rest)
"""


def mariadb_schema(url: str) -> dict[str, Any]:
    """The tables, columns, indexes and constraints of the MariaDB database of ``url``
    (information_schema), and its django_migrations rows in the order written."""
    here = "table_schema = DATABASE()"
    columns = server_rows(
        url,
        "SELECT table_name, column_name, column_type, is_nullable, column_default, extra, "
        "collation_name FROM information_schema.columns WHERE " + here + " ORDER BY 1, 2",
    )
    indexes = server_rows(
        url,
        "SELECT table_name, index_name, non_unique, seq_in_index, column_name, index_type "
        "FROM information_schema.statistics WHERE " + here + " ORDER BY 1, 2, 4",
    )
    keys = server_rows(
        url,
        "SELECT tc.table_name, tc.constraint_name, tc.constraint_type, k.column_name, "
        "k.ordinal_position, k.referenced_table_name, k.referenced_column_name "
        "FROM information_schema.table_constraints tc LEFT JOIN "
        "information_schema.key_column_usage k ON k.constraint_schema = tc.constraint_schema "
        "AND k.table_name = tc.table_name AND k.constraint_name = tc.constraint_name "
        "WHERE tc.constraint_schema = DATABASE() ORDER BY 1, 2, 5",
    )
    checks = server_rows(
        url,
        "SELECT table_name, constraint_name, check_clause FROM "
        "information_schema.check_constraints WHERE constraint_schema = DATABASE() ORDER BY 1, 2",
    )
    references = server_rows(
        url,
        "SELECT table_name, constraint_name, update_rule, delete_rule "
        "FROM information_schema.referential_constraints WHERE constraint_schema = DATABASE() "
        "ORDER BY 1, 2",
    )
    migrations = server_rows(url, "SELECT app, name FROM django_migrations ORDER BY id")
    return {
        "columns": columns,
        "indexes": indexes,
        "constraints": keys,
        "checks": checks,
        "references": references,
        "migrations": migrations,
    }


def _mariadb(sql: str, database: str = "") -> None:
    """``sql`` on the MariaDB test server (in ``database`` if given), committed."""
    import MySQLdb  # type: ignore[import-untyped]

    from django_cfg import DatabaseConfig

    server = DatabaseConfig.from_url(MARIADB_URL)
    connection = MySQLdb.connect(
        host=server.host, port=int(server.port or 3306), user=server.user, database=database
    )
    with closing(connection):
        connection.cursor().execute(sql)
        connection.commit()


class Attacked(Project):
    """``Project`` on SQLite, PostgreSQL or MariaDB (tenants and, on MariaDB, the tenants
    table on a MariaDB database of their own prefix), with ``HOOK``."""

    def __init__(self, root: Path, engine: str) -> None:
        if engine != "mariadb":
            super().__init__(root, engine)
        else:
            tag = secrets.token_hex(3)
            self.default_url = sibling_url(MARIADB_URL, f"_md{tag}")
            _mariadb(f"CREATE DATABASE `{self.default_url.partition('?')[0].rpartition('/')[2]}`")
            super().__init__(root, "sqlite")  # its static migrate: default, set below
            self.engine = engine
            self.template = sibling_url(MARIADB_URL, f"_ma{tag}_{{tenant}}")
            self.env["BENCH_TENANT_URL"] = self.template
            self.env["BENCH_DEFAULT_URL"] = self.default_url
            self.manage("migrate", "--noinput", "-v", "0", mode="static")
        (self.root / "hook.py").write_text(HOOK)
        self.holds = 0

    # Running the project -------------------------------------------------------------------

    def hooked(self, *args: str, **spec: Any) -> tuple[int, str]:
        """``hook.py ARGS`` with a hook (``spec``, as ``HOOK`` reads it): status, output."""
        run = self.run("hook.py", *args, env={"HOOK_SPEC": json.dumps(spec)})
        return run.returncode, run.stdout + run.stderr

    def held(self, *args: str, **spec: Any) -> tuple[subprocess.Popen[str], Path]:
        """``hook.py ARGS`` started, once it holds at the point of ``spec``: the process and
        the folder in which ``release`` lets it go on."""
        self.holds += 1
        folder = self.folder / f"hold{self.holds}"
        folder.mkdir()
        spec = {"action": "hold", "folder": str(folder), "pattern": "", "nth": 1, **spec}
        process = self.start("hook.py", *args, env={"HOOK_SPEC": json.dumps(spec)})
        try:
            wait_for(folder / "held", process)
        except BaseException:
            (folder / "release").touch()
            raise
        return process, folder

    def status_of(self, *args: str) -> tuple[int, str]:
        run = self.run("manage.py", *args)
        return run.returncode, run.stdout + run.stderr

    # What the databases hold ---------------------------------------------------------------

    def schema(self, name: str) -> dict[str, Any]:
        if self.engine != "mariadb":
            return super().schema(name)
        got = mariadb_schema(self.url(name))
        got["migrations"] = sorted(got["migrations"])
        return got

    def reference(self) -> dict[str, Any]:
        if self.engine == "mariadb":
            _mariadb(f"CREATE DATABASE `{self.database(REFS_[self.references])}`")
        return super().reference()

    def rows(self) -> dict[str, str]:
        if self.engine != "mariadb":
            return super().rows()
        return dict(server_rows(self.default_url, "SELECT name, state FROM django_cfg_tenant"))

    def drop_template(self) -> None:
        if self.engine != "mariadb":
            super().drop_template()

    def files_of(self, name: str) -> list[str]:
        """SQLite: the files of tenant ``name`` and the template's staged copies, lock files
        aside."""
        return sorted(
            p.name
            for p in (self.folder / "tenants").iterdir()
            if (p.name.startswith(f"{name}.") or p.name.startswith("_template.sqlite3.new"))
            and not p.name.endswith(("-lock", "-locks"))
        )

    def cleanup(self) -> None:
        if self.engine == "mariadb":
            prefix = self.database("")
            for name in server_databases(self.url("x")):
                if name.startswith(prefix):
                    drop_server_database(self.url(name[len(prefix) :]))
            drop_server_database(self.default_url)
        else:
            super().cleanup()


REFS_ = ["ref", "ref2", "ref3", "ref4"]  # test_clone_attacks.REFS: the static mode's aliases


def engine_param(engine: str) -> Any:
    marks = {"postgresql": [pytest.mark.postgres], "mariadb": [pytest.mark.mariadb]}
    return pytest.param(engine, marks=marks.get(engine, []), id=engine)


@pytest.fixture
def maria(tmp_path: Path) -> Iterator[Attacked]:
    made = Attacked(tmp_path, "mariadb")
    try:
        yield made
    finally:
        made.cleanup()


@pytest.fixture(params=[engine_param(e) for e in ("sqlite", "postgresql", "mariadb")])
def any_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Attacked]:
    made = Attacked(tmp_path, request.param)
    try:
        yield made
    finally:
        made.cleanup()


@pytest.fixture(params=[engine_param(e) for e in ("sqlite", "postgresql")])
def cloning_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Attacked]:
    made = Attacked(tmp_path, request.param)  # the engines with a template to copy
    try:
        yield made
    finally:
        made.cleanup()


def applied_nothing(out: str) -> bool:
    return re.search(r"\d+ applied", out) is None


def together(project: Attacked, commands: list[list[str]]) -> list[tuple[int, str]]:
    runs = [project.start("manage.py", *command) for command in commands]
    done = []
    for run in runs:
        out, _ = run.communicate(timeout=300)
        done.append((run.returncode, out))
    return done


# A. MariaDB tenants under concurrency ------------------------------------------------------


pytestmark_mariadb = pytest.mark.mariadb
ROUNDS = 2


@pytestmark_mariadb
def test_mariadb_creations_at_once(maria: Attacked) -> None:
    """Three names at once, then one name by three processes at once (ROUNDS rounds): each
    created tenant as migrate leaves a database; of one name, one winner and two told it
    exists; no database beside the tenants'."""
    fresh = maria.reference()
    created: list[str] = []
    for round_ in range(ROUNDS):
        names = [f"d{round_}{i}" for i in range(3)]
        for status, out in together(maria, [["create_tenant", name] for name in names]):
            assert status == 0, out
        created += names
        name = f"same{round_}"
        runs = together(maria, [["create_tenant", name]] * 3)
        won = [out for status, out in runs if status == 0]
        lost = [out for status, out in runs if status != 0]
        assert len(won) == 1, runs
        for out in lost:
            assert f"Tenant '{name}' already exists" in out, out
            assert "Traceback" not in out, out
        created.append(name)
    for name in created:
        assert maria.schema(name) == fresh, name
    assert maria.rows() == dict.fromkeys(created, "")
    assert maria.leftovers() == []


@pytestmark_mariadb
def test_mariadb_creation_while_migrate_all_migrates(maria: Attacked) -> None:
    """Tenants a and b, then a new migration (crm 0005) and migrate_all, held on a with 0005's
    ALTER TABLE done and its row not written: meanwhile c is created (all migrations, 0005
    included), a and b refused (they exist); once migrate_all is done every tenant is as
    migrate leaves a database, and a second migrate_all finds nothing to apply."""
    for name in ("a", "b"):
        maria.create(name)
    maria.add_field(5, "0004_lowercase_domains")
    fresh = maria.reference()
    runner, gate = maria.held(
        "migrate_all", "--noinput", kind="sql", pattern="ALTER TABLE .*field5", when="after"
    )
    try:
        assert ("crm", "0005_field5") not in {tuple(r) for r in maria.schema("a")["migrations"]}
        made = maria.status_of("create_tenant", "c")
        again = [maria.status_of("create_tenant", name) for name in ("a", "b")]
    finally:
        (gate / "release").touch()
        out, _ = runner.communicate(timeout=300)
    assert runner.returncode == 0, out
    assert made[0] == 0, made
    for status, said in again:
        assert status == 1, said
        assert "already exists" in said, said
    for name in "abc":
        assert maria.schema(name) == fresh, name
    assert applied_nothing(maria.manage("migrate_all", "--noinput"))
    assert maria.rows() == dict.fromkeys("abc", "")
    assert maria.leftovers() == []


@pytestmark_mariadb
def test_two_migrate_alls_at_once_on_mariadb_tenants(maria: Attacked) -> None:
    """Tenants a, b, c; each round a new migration file (crm 0005, then 0006), then two
    migrate_all at once (one --parallel 2, one c to a): both succeed, each tenant migrated by
    exactly one of them, none with a row twice, all as migrate leaves a database."""
    for name in "abc":
        maria.create(name)
    after = "0004_lowercase_domains"
    for round_ in range(ROUNDS):
        after = maria.add_field(5 + round_, after)
        fresh = maria.reference()
        runs = together(
            maria,
            [
                ["migrate_all", "--noinput", "--parallel", "2"],
                ["migrate_all", "--noinput", "--tenant", "c", "--tenant", "b", "--tenant", "a"],
            ],
        )
        for status, out in runs:
            assert status == 0, out
        for name in "abc":
            said = [out for _, out in runs if re.search(f"tenant_{name}: 1 applied", out)]
            assert len(said) == 1, (round_, name, runs)
            assert maria.schema(name) == fresh, (round_, name)
    assert maria.leftovers() == []


def mariadb_kill_points() -> list[tuple[str, dict[str, Any]]]:
    """(label, kill spec) of points inside ``create_tenant`` on MariaDB: between its steps,
    and inside an initial migration (a table of two made; the tables made, their foreign keys
    not yet)."""
    return [
        ("claimed", {"kind": "call", "target": f"{LIFECYCLE}:_claim"}),
        ("before CREATE DATABASE", {"kind": "sql", "pattern": "CREATE DATABASE", "when": "before"}),
        ("after CREATE DATABASE", {"kind": "sql", "pattern": "CREATE DATABASE"}),
        ("django_migrations made", {"kind": "sql", "pattern": "CREATE TABLE .django_migrations"}),
        ("one table of crm 0001", {"kind": "sql", "pattern": "CREATE TABLE .crm_"}),
        ("crm 0001 tables, no key", {"kind": "sql", "pattern": "CREATE TABLE .crm_", "nth": 2}),
        ("half migrated", {"kind": "sql", "pattern": "INSERT INTO .django_migrations", "nth": 6}),
        ("migrated", {"kind": "call", "target": f"{LIFECYCLE}:_migrate"}),
    ]


@pytestmark_mariadb
def test_a_mariadb_creation_killed_at_each_step_is_finished_by_the_next(maria: Attacked) -> None:
    """create_tenant killed at each point: no ready row; create_tenant again finishes it as
    migrate leaves a database; migrate_all then finds nothing to apply; nothing left over."""
    fresh = maria.reference()
    names = []
    for number, (label, point) in enumerate(mariadb_kill_points()):
        name = f"k{number}"
        status, out = maria.hooked("create_tenant", name, action="kill", **point)
        assert status == -signal.SIGKILL, (label, status, out)
        assert maria.rows().get(name) in {"creating", "migrating"}, (label, maria.rows())
        again = maria.status_of("create_tenant", name)
        assert again[0] == 0, (label, again)
        assert maria.rows()[name] == "", label
        assert maria.schema(name) == fresh, label
        names.append(name)
    assert applied_nothing(maria.manage("migrate_all", "--noinput"))
    for name in names:
        assert maria.schema(name) == fresh, name
    assert maria.leftovers() == []


@pytestmark_mariadb
def test_a_mariadb_creation_killed_inside_a_later_migration_is_finished_by_the_next(
    maria: Attacked,
) -> None:
    """create_tenant killed inside crm 0002 (its column added, its index and row not yet:
    MariaDB commits each DDL statement): create_tenant again must finish the tenant, as it
    does after a kill at any other point."""
    fresh = maria.reference()
    point = {"kind": "sql", "pattern": "ALTER TABLE .crm_contact. ADD COLUMN .phone"}
    status, out = maria.hooked("create_tenant", "k", action="kill", **point)
    assert status == -signal.SIGKILL, out
    assert maria.rows() == {"k": "migrating"}
    again = maria.status_of("create_tenant", "k")
    assert again[0] == 0, again
    assert maria.schema("k") == fresh
    assert maria.rows() == {"k": ""}


@pytestmark_mariadb
def test_an_adopted_mariadb_database_killed_inside_a_migration_keeps_its_data(
    maria: Attacked,
) -> None:
    """A database adopted with data (a tenant dropped without its database, then crm 0005
    added), its adoption killed inside crm 0005 (its column added, its row not written): the
    resumed creation must never drop and make it again (as it does for a database it made):
    it fails, says the database existed before and that --drop-database would drop what it
    held, and the data stays."""
    maria.create("legacy")
    precious(maria, "legacy", "CREATE TABLE precious (x integer)")
    precious(maria, "legacy", "INSERT INTO precious VALUES (42)")
    maria.manage("drop_tenant", "legacy", "--noinput")
    maria.add_field(5, "0004_lowercase_domains")
    point = {"kind": "sql", "pattern": "ALTER TABLE .crm_company. ADD COLUMN .field5"}
    status, out = maria.hooked("create_tenant", "legacy", "--adopt", action="kill", **point)
    assert status == -signal.SIGKILL, out
    assert maria.rows() == {"legacy": "taking"}
    status, out = maria.status_of("create_tenant", "legacy")
    assert status == 1, out
    assert "existed before (found empty or adopted)" in out
    assert "--drop-database would drop what it held" in out
    assert "Traceback" not in out
    assert precious(maria, "legacy", "SELECT x FROM precious") == [(42,)]
    assert maria.rows() == {"legacy": "taking"}


# B. drop_tenant of a half-created tenant ---------------------------------------------------


def drop_kill_points(engine: str) -> list[tuple[str, dict[str, Any], bool]]:
    """(label, kill spec, whether the template is dropped first: the creation migrates and
    then makes the template from the tenant's database) inside ``create_tenant``."""
    migrations = "INSERT INTO .django_migrations."
    points: list[tuple[str, dict[str, Any], bool]] = [
        ("claimed", {"kind": "call", "target": f"{LIFECYCLE}:_claim"}, False),
        (
            "migrating, no database yet",
            {"kind": "call", "target": f"{LIFECYCLE}:_new_database", "when": "before"},
            True,
        ),
        ("database made", {"kind": "call", "target": f"{LIFECYCLE}:_new_database"}, True),
        ("half migrated", {"kind": "sql", "pattern": migrations, "nth": 6}, True),
        ("migrated", {"kind": "call", "target": f"{LIFECYCLE}:_migrate"}, True),
    ]
    if engine == "sqlite":
        points += SQLITE_TEMPLATE_POINTS
    elif engine == "postgresql":
        points += [
            ("inside the copy", {"kind": "sql", "pattern": "CREATE DATABASE .* TEMPLATE"}, False),
            (
                "refresh: staged",
                {"kind": "sql", "pattern": "CREATE DATABASE .*_new_.* TEMPLATE"},
                True,
            ),
        ]
    else:
        points += [
            (
                "inside crm 0002",
                {"kind": "sql", "pattern": "ALTER TABLE .crm_contact. ADD COLUMN .phone"},
                False,
            ),
            ("one table of crm 0001", {"kind": "sql", "pattern": "CREATE TABLE .crm_"}, False),
        ]
    return points


def dropped_by(project: Attacked, name: str, how: str) -> str:
    """``drop_tenant NAME --drop-database`` (how="command") or ``drop_tenant(NAME,
    drop_database=True)`` (how="api"): what it said; it must succeed. A bare claim (row
    "creating": the creation made no database) is removed and what is at its place kept."""
    claim = project.rows().get(name) == "creating"
    if how == "command":
        status, out = project.status_of("drop_tenant", name, "--drop-database", "--noinput")
        assert status == 0, out
        said = "a creation interrupted before it made its database" if claim else "dropped."
        assert f"Tenant {name!r} removed" in out, out
        assert said in out, out
        return out
    status, out = project.hooked("drop_tenant()", name)
    assert status == 0, out
    assert json.loads(out.strip().splitlines()[-1])["dropped"] is not claim, out
    return out


@pytest.mark.parametrize("how", ["command", "api"])
def test_drop_of_a_creation_killed_at_each_step(any_engine: Attacked, how: str) -> None:
    """create_tenant killed at each point, then dropped with its database: the row, the
    database and anything staged for it are gone; the name is free: create_tenant makes it
    again, as migrate leaves a database; nothing left over."""
    project = any_engine
    project.create("a")  # the template (SQLite, PostgreSQL)
    fresh = project.reference()
    problems: dict[str, Any] = {}
    for number, (label, point, no_template) in enumerate(drop_kill_points(project.engine)):
        if no_template:
            project.drop_template()
        name = f"k{number}"
        status, out = project.hooked("create_tenant", name, action="kill", **point)
        assert status == -signal.SIGKILL, (label, status, out)  # the point was reached
        assert project.rows().get(name) in {"creating", "migrating"}, (label, project.rows())
        dropped_by(project, name, how)
        found = {
            "row": project.rows().get(name),
            "database": project.exists(name),
            "leftovers": project.leftovers(),
            "files": project.files_of(name) if project.engine == "sqlite" else [],
        }
        if found != {"row": None, "database": False, "leftovers": [], "files": []}:
            problems[label] = found
            project.cleanup_leftovers()
        status, out = project.status_of("create_tenant", name)
        assert status == 0, (label, out)
        assert project.rows()[name] == "", label
        assert project.schema(name) == fresh, label
    assert problems == {}
    assert project.leftovers() == []


def test_a_recreated_sqlite_tenant_never_pairs_with_the_dropped_ones_journal(
    tmp_path: Path,
) -> None:
    """create_tenant killed half way through its migrations (SQLite, no template: it migrates
    in a transaction, so a rollback journal is beside the file), dropped with its database,
    then created again as a copy of the template: the dropped database's journal is gone with
    it (a journal killed while hot, during a commit, would be rolled back into the next file of
    that name: SQLite's "mispairing database files and hot journals")."""
    project = Attacked(tmp_path, "sqlite")
    project.create("a")
    fresh = project.reference()
    project.drop_template()
    point = {"kind": "sql", "pattern": "INSERT INTO .django_migrations.", "nth": 6}
    status, out = project.hooked("create_tenant", "k", action="kill", **point)
    assert status == -signal.SIGKILL, out
    dropped_by(project, "k", "command")
    project.create("b")  # migrated: the template again
    assert COPIED in project.create("k")
    assert project.files_of("k") == ["k.sqlite3"]
    assert project.schema("k") == fresh


HOLD_POINTS: list[tuple[str, dict[str, Any]]] = [
    ("claimed", {"kind": "call", "target": f"{LIFECYCLE}:_claim"}),
    ("half migrated", {"kind": "sql", "pattern": "INSERT INTO .django_migrations.", "nth": 3}),
    ("migrated", {"kind": "call", "target": f"{LIFECYCLE}:_migrate"}),
]
"""Where a creation is held while drop_tenant of its name runs (no template: it migrates)."""


def test_drop_while_the_same_name_is_being_created(any_engine: Attacked) -> None:
    """create_tenant held at each point while drop_tenant --drop-database (the command, then
    the Python API) of its name runs: refused, saying so, nothing touched; released, the
    creation finishes as migrate leaves a database; then the drop succeeds."""
    project = any_engine
    fresh = project.reference()
    for number, (label, point) in enumerate(HOLD_POINTS):
        project.drop_template()
        name = f"h{number}"
        creator, gate = project.held("create_tenant", name, **point)
        try:
            refused = project.status_of("drop_tenant", name, "--drop-database", "--noinput")
            api = project.hooked("drop_tenant()", name)
        finally:
            (gate / "release").touch()
            out, _ = creator.communicate(timeout=300)
        assert creator.returncode == 0, (label, out)
        assert refused[0] == 1, (label, refused)
        assert f"Tenant {name!r} is being created or dropped" in refused[1], (label, refused)
        assert "Traceback" not in refused[1], (label, refused)
        assert api[0] == 3, (label, api)
        assert json.loads(api[1].strip().splitlines()[-1])["refused"] == "TenantLifecycleError"
        assert project.rows()[name] == "", label
        assert project.schema(name) == fresh, label
        dropped_by(project, name, "command")
        assert name not in project.rows(), label
        assert not project.exists(name), label
    assert project.leftovers() == []


def test_a_killed_creation_dropped_without_its_database(any_engine: Attacked) -> None:
    """create_tenant killed half way through its migrations, then drop_tenant NAME (its
    database kept): create_tenant NAME refuses that database, saying how to go on (drop it,
    or --adopt); with --adopt it finishes as migrate leaves a database."""
    project = any_engine
    fresh = project.reference()
    project.drop_template()
    point = {"kind": "sql", "pattern": "INSERT INTO .django_migrations.", "nth": 6}
    status, out = project.hooked("create_tenant", "k", action="kill", **point)
    assert status == -signal.SIGKILL, out
    kept = project.status_of("drop_tenant", "k", "--noinput")
    assert kept[0] == 0, kept
    assert "is kept, with its data" in kept[1], kept
    refused = project.status_of("create_tenant", "k")
    assert refused[0] == 1, refused
    assert "already exists and holds" in refused[1], refused
    assert "--adopt" in refused[1], refused
    assert "k" not in project.rows()
    adopted = project.status_of("create_tenant", "k", "--adopt")
    assert adopted[0] == 0, adopted
    assert project.rows()["k"] == ""
    assert project.schema("k") == fresh


def precious(project: Attacked, name: str, sql: str) -> list[Any]:
    """``sql`` on tenant ``name``'s database (none: [])."""
    if not project.exists(name):
        return []
    if project.engine == "sqlite":
        with closing(sqlite3.connect(project.path(name))) as db:
            result = db.execute(sql).fetchall()
            db.commit()
            return result
    return (
        server_rows(project.url(name), sql)
        if sql.startswith("SELECT")
        else _run(project, name, sql)
    )


def _run(project: Attacked, name: str, sql: str) -> list[Any]:
    from django_cfg import DatabaseConfig

    database = DatabaseConfig.from_url(project.url(name))
    if database.family == "postgresql":
        import psycopg

        with psycopg.connect(project.url(name).partition("?")[0]) as db:
            db.execute(sql.encode())
        return []
    _mariadb(sql, str(database.name))
    return []


def test_dropping_a_bare_claim_keeps_the_database_it_never_took(any_engine: Attacked) -> None:
    """Tenant old with data, dropped without its database (kept, "with its data"); then
    create_tenant old killed right after its claim (it never looked at the database); then
    drop_tenant old --drop-database, to clean the half-created tenant up: the kept database
    and its data must survive (or the drop refuse, saying why)."""
    project = any_engine
    project.create("old")
    precious(project, "old", "CREATE TABLE precious (x integer)")
    precious(project, "old", "INSERT INTO precious VALUES (42)")
    project.manage("drop_tenant", "old", "--noinput")
    status, out = project.hooked("create_tenant", "old", action="kill", **HOLD_POINTS[0][1])
    assert status == -signal.SIGKILL, out
    assert project.rows() == {"old": "creating"}
    status, out = project.status_of("drop_tenant", "old", "--drop-database", "--noinput")
    assert status == 0, out
    assert "a creation interrupted before it made its database" in out
    assert "is not its own and is kept" in out
    assert project.rows() == {}
    assert precious(project, "old", "SELECT x FROM precious") == [(42,)]


@pytestmark_mariadb
@pytest.mark.xfail(
    strict=True,
    reason="MariaDB commits each DDL statement: migrate_all killed inside a migration that is "
    "not initial (crm 0005's column added, its row not written) leaves the tenant where every "
    "later migrate_all fails with 'Duplicate column name', though migrate_all's docstring says "
    "a run killed half way is finished by the next (recovery covers initial migrations only; "
    "Django's own migrate is stuck the same way)",
)
def test_a_mariadb_migrate_all_killed_inside_a_migration_is_finished_by_the_next(
    maria: Attacked,
) -> None:
    maria.create("a")
    maria.add_field(5, "0004_lowercase_domains")
    fresh = maria.reference()
    point = {"kind": "sql", "pattern": "ALTER TABLE .*field5"}
    status, out = maria.hooked("migrate_all", "--noinput", action="kill", **point)
    assert status == -signal.SIGKILL, out
    again = maria.status_of("migrate_all", "--noinput")
    assert again[0] == 0, again
    assert maria.schema("a") == fresh


def test_a_half_created_tenant_dropped_without_its_database_leaves_no_staged_copy(
    cloning_engine: Attacked,
) -> None:
    """create_tenant killed inside its copy of the template or inside the refresh of the
    template from its database, then drop_tenant NAME (its database kept): the staged copies
    (the template's, never the tenant's data) go with the row; the database stays; the name
    is created again as migrate leaves a database."""
    project = cloning_engine
    project.create("a")  # the template
    fresh = project.reference()
    points = [
        (label, point, no_template)
        for label, point, no_template in drop_kill_points(project.engine)
        if "copy" in label or "refresh" in label
    ]
    assert len(points) == 2
    for number, (label, point, no_template) in enumerate(points):
        if no_template:
            project.drop_template()
        name = f"s{number}"
        status, out = project.hooked("create_tenant", name, action="kill", **point)
        assert status == -signal.SIGKILL, (label, status, out)
        status, out = project.status_of("drop_tenant", name, "--noinput")
        assert status == 0, (label, out)
        assert "is kept" in out, (label, out)
        assert project.rows().get(name) is None, label
        staged = [
            left
            for left in project.leftovers()
            if left.removesuffix(".sqlite3") != name and left != project.database(name)
        ]
        if project.engine == "sqlite":
            staged += [f for f in project.files_of(name) if f != f"{name}.sqlite3"]
            staged += [f for f in project.files_of("_template") if f != "_template.sqlite3"]
        assert staged == [], label
        project.cleanup_leftovers()  # the kept database
        status, out = project.status_of("create_tenant", name)
        assert status == 0, (label, out)
        assert project.schema(name) == fresh, label
