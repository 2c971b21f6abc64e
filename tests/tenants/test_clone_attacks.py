"""Attacks on create_tenant's copy of a migrated template (django_cfg.tenants.clone), on SQLite
files and on PostgreSQL databases, with the tenants in the tenants table:

1. ``create_tenant`` while ``migrate_all`` (another process) is migrating the template, held in
   the middle of it (a migration waiting for a file, after another one was committed): the new
   tenant is migrated, not copied, and ends as Django's ``migrate`` leaves a database; the
   template, once ``migrate_all`` is done, too; a later creation copies it.
2. Creations at once: of different names (all end migrated) and of the same name (one winner,
   the others refused; one ready row, its database migrated).
3. ``create_tenant`` killed with SIGKILL at chosen points (after the claim, inside the copy,
   half way through its migrations, inside the template's refresh, ...) and at random times:
   no ready row without a migrated database, a template that is current is a database
   ``migrate`` would leave, a rerun finishes, and nothing is left behind.
4. A template behind the migration files: a new migration file, a ``migrate_all`` killed while
   it migrated the template (one of two new migrations committed), a new tenant app: never
   copied; an edited migration file (same name, other content) is not seen.

"Django's migrate" is ``migrate --database tenant_<ref>`` of a fresh database in the project's
static mode (benchmarks/tenant_project, BENCH_MODE=static: fixed aliases, a router).
"""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.support.services import POSTGRES_URL, sibling_url
from tests.support.spec_page import run_process, user_environment
from tests.tenants.project_support import (
    ROOT,
    create_server_database,
    drop_server_database,
    server_databases,
)
from tests.tenants.test_shared_plan import pg_schema, sqlite_schema

REFS = ["ref", "ref2", "ref3", "ref4"]
COPIED = "copied from the migrated template"
# Kill points inside a creation's copy of the SQLite template and inside its refresh of the
# template (label, hook spec, whether the template is dropped first), for the attacks here
# and in test_mariadb_and_drop_attacks.py.
SQLITE_TEMPLATE_POINTS: list[tuple[str, dict[str, Any], bool]] = [
    (
        "inside the copy",
        {"kind": "call", "target": "shutil:copyfile", "pattern": "_template"},
        False,
    ),
    (
        "inside the refresh",
        {"kind": "call", "target": "os:replace", "pattern": "_template", "when": "before"},
        True,
    ),
]

FIELD_MIGRATION = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("crm", "{after}")]
    operations = [
        migrations.AddField("company", "{field}", models.IntegerField(default={default})),
    ]
"""

# Waits, on the template only (alias tenant__template) and only when GATE_DIR is set, for
# GATE_DIR/release, having touched GATE_DIR/held: migrate_all holds the template mid-way.
GATE_MIGRATION = """import os
import time
from pathlib import Path

from django.db import migrations


def gate(apps, schema_editor):
    folder = os.environ.get("GATE_DIR")
    if not folder or schema_editor.connection.alias != "tenant__template":
        return
    Path(folder, "held").touch()
    for _ in range(1200):
        if Path(folder, "release").exists():
            return
        time.sleep(0.05)


class Migration(migrations.Migration):
    dependencies = [("crm", "{after}")]
    operations = [migrations.RunPython(gate, migrations.RunPython.noop)]
"""

# create_tenant ARGS in a process that kills itself (SIGKILL) at the point KILL_SPEC names:
# {"kind": "sql", "pattern": regex of a statement} or {"kind": "call", "target": "module:attr",
# "pattern": regex of its arguments' repr}, "nth": the nth match, "when": "before" | "after".
KILLER = """import importlib
import json
import os
import re
import signal
import sys

import django

django.setup()
spec = json.loads(os.environ["KILL_SPEC"])
seen = [0]


def hit(text):
    if re.search(spec["pattern"], text):
        seen[0] += 1
        return seen[0] == spec["nth"]
    return False


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def wrap(original, text_of):
    def wrapper(*args, **kwargs):
        match = hit(text_of(args))
        if match and spec["when"] == "before":
            die()
        result = original(*args, **kwargs)
        if match:
            die()
        return result

    return wrapper


if spec["kind"] == "sql":
    from django.db.backends import utils

    utils.CursorWrapper.execute = wrap(utils.CursorWrapper.execute, lambda args: str(args[1]))
else:
    module_name, _, attr = spec["target"].partition(":")
    module = importlib.import_module(module_name)
    setattr(module, attr, wrap(getattr(module, attr), repr))

from django.core.management import call_command

call_command("create_tenant", *sys.argv[1:])
"""

SETTINGS_PATCH = (
    "names=_names,",
    'names=None if os.environ.get("BENCH_MODE") == "table" else _names,',
)


class Project:
    """A copy of benchmarks/tenant_project whose tenants are the tenants table's rows
    (BENCH_MODE=table), the references ``REFS`` fixed aliases of the static mode."""

    def __init__(self, root: Path, engine: str) -> None:
        self.engine = engine
        self.folder = root
        self.root = root / "project"
        shutil.copytree(
            ROOT / "benchmarks" / "tenant_project",
            self.root,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        settings = self.root / "settings.py"
        text = settings.read_text()
        assert SETTINGS_PATCH[0] in text
        settings.write_text(text.replace(*SETTINGS_PATCH))
        (self.root / "killer.py").write_text(KILLER)
        (root / "tenants").mkdir()
        if engine == "sqlite":
            self.template = "sqlite:///tenants/{tenant}.sqlite3"
        else:
            self.template = sibling_url(POSTGRES_URL, f"_ca{secrets.token_hex(3)}_{{tenant}}")
        self.env = {
            "DJANGO_SETTINGS_MODULE": "settings",
            "BENCH_DIR": str(root),
            "BENCH_DEFAULT_URL": "sqlite:///default.sqlite3",
            "BENCH_TENANT_URL": self.template,
            "BENCH_TENANTS": ",".join(REFS),
        }
        self.manage("migrate", "--noinput", "-v", "0", mode="static")  # default: tenants table
        self.references = 0

    # Running the project -------------------------------------------------------------------

    def run(self, *args: str, mode: str = "table", env: dict[str, str] | None = None) -> Any:
        return run_process(
            [sys.executable, *args],
            cwd=self.root,
            env={**self.env, "BENCH_MODE": mode, **(env or {})},
        )

    def manage(self, *args: str, mode: str = "table") -> str:
        run = self.run("manage.py", *args, mode=mode)
        assert run.returncode == 0, run.stdout + run.stderr
        return str(run.stdout)

    def create(self, name: str) -> str:
        return self.manage("create_tenant", name)

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=self.root,
            env=user_environment({**self.env, "BENCH_MODE": "table", **(env or {})}),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def killed(self, name: str, spec: dict[str, Any]) -> tuple[int, str]:
        run = self.run("killer.py", name, env={"KILL_SPEC": json.dumps(spec)})
        return run.returncode, run.stdout + run.stderr

    # Migration files ------------------------------------------------------------------------

    def add_field(self, number: int, after: str, default: int = 0) -> str:
        name = f"{number:04d}_field{number}"
        text = (
            FIELD_MIGRATION.replace("{after}", after)
            .replace("{field}", f"field{number}")
            .replace("{default}", str(default))
        )
        (self.root / "crm" / "migrations" / f"{name}.py").write_text(text)
        return name

    def add_gate(self, number: int, after: str) -> str:
        name = f"{number:04d}_gate"
        text = GATE_MIGRATION.replace("{after}", after)
        (self.root / "crm" / "migrations" / f"{name}.py").write_text(text)
        return name

    # What the databases hold ---------------------------------------------------------------

    def url(self, name: str) -> str:
        return self.template.replace("{tenant}", name)

    def path(self, name: str) -> Path:
        return self.folder / "tenants" / f"{name}.sqlite3"

    def exists(self, name: str) -> bool:
        if self.engine == "sqlite":
            return self.path(name).exists()
        return self.database(name) in server_databases(self.url(name))

    def database(self, name: str) -> str:
        return self.url(name).partition("?")[0].rpartition("/")[2]

    def schema(self, name: str) -> dict[str, Any]:
        """Its tables, columns, indexes, constraints; its django_migrations rows as a multiset
        (sorted: a row twice shows twice)."""
        got = (
            sqlite_schema(self.path(name)) if self.engine == "sqlite" else pg_schema(self.url(name))
        )
        got["migrations"] = sorted(got["migrations"])
        if name == "_template" and self.engine == "sqlite":  # its stamp, dropped from copies
            got["objects"] = [o for o in got["objects"] if o[1] != "django_cfg_template"]
        return got

    def reference(self) -> dict[str, Any]:
        """A fresh database migrated by Django's migrate (the migration files on disk now)."""
        name = REFS[self.references]
        self.references += 1
        if self.engine == "postgresql":
            create_server_database(self.url(name))
        self.manage(
            "migrate", "--noinput", "-v", "0", "--database", f"tenant_{name}", mode="static"
        )
        return self.schema(name)

    def rows(self) -> dict[str, str]:
        """The tenants table: name -> state."""
        with closing(sqlite3.connect(self.folder / "default.sqlite3")) as db:
            return dict(db.execute("SELECT name, state FROM django_cfg_tenant").fetchall())

    def leftovers(self) -> list[str]:
        """Files or databases beside the tenants that are neither a tenant's, a reference's,
        nor the template (nor a lock file)."""
        known = {*self.rows(), *REFS, "_template"}
        if self.engine == "sqlite":
            return sorted(
                p.name
                for p in (self.folder / "tenants").iterdir()
                if not p.name.endswith(("-lock", "-locks", "-journal", "-wal", "-shm"))
                and p.name.removesuffix(".sqlite3") not in known
            )
        prefix = self.database("")
        return sorted(
            name
            for name in server_databases(self.url("x"))
            if name.startswith(prefix) and name[len(prefix) :] not in known
        )

    def unstamp_template(self) -> None:
        """Remove the template's stamp (as a template made by an earlier version has none)."""
        if self.engine == "sqlite":
            with closing(sqlite3.connect(self.path("_template"))) as db, db:
                db.execute("DROP TABLE django_cfg_template")
            return
        from tests.support.replica_tools import _connect

        with _connect(self.url("_template")) as connection:  # to the server's "postgres"
            connection.execute(f'COMMENT ON DATABASE "{self.database("_template")}" IS NULL')  # type: ignore[arg-type]

    def drop_template(self) -> None:
        if self.engine == "sqlite":
            self.path("_template").unlink(missing_ok=True)
        else:
            drop_server_database(self.url("_template"))

    def cleanup_leftovers(self) -> None:
        for name in self.leftovers():
            if self.engine == "sqlite":
                (self.folder / "tenants" / name).unlink()
            else:
                drop_server_database(self.url(name[len(self.database("")) :]))

    def cleanup(self) -> None:
        if self.engine == "postgresql":
            prefix = self.database("")
            for name in server_databases(self.url("x")):
                if name.startswith(prefix):
                    drop_server_database(self.url(name[len(prefix) :]))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Project]:
    made = Project(tmp_path, request.param)
    try:
        yield made
    finally:
        made.cleanup()


def same(got: dict[str, Any], want: dict[str, Any]) -> bool:
    return got == want


def wait_for(path: Path, process: subprocess.Popen[str], rounds: int = 1200) -> None:
    for _ in range(rounds):
        if path.exists():
            return
        if process.poll() is not None:
            raise AssertionError(f"exited {process.returncode} first: {process.stdout.read()}")  # type: ignore[union-attr]
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


# 1. create_tenant while migrate_all migrates the template --------------------------------------


def test_a_creation_while_migrate_all_migrates_the_template(project: Project) -> None:
    """migrate_all holds the template after committing crm 0005 (crm 0006 waits): creations
    meanwhile are migrated (never a copy of the half-migrated template) and end as migrate
    leaves a database; once migrate_all is done, the template is current, a creation copies
    it, and a second migrate_all finds everything up to date."""
    project.create("a")  # the template
    project.add_gate(6, project.add_field(5, "0004_lowercase_domains"))
    fresh = project.reference()
    assert ("crm", "0006_gate") in fresh["migrations"]
    gate = project.folder / "gate"
    gate.mkdir()
    runner = project.start("manage.py", "migrate_all", "--noinput", env={"GATE_DIR": str(gate)})
    try:
        wait_for(gate / "held", runner)
        if project.engine == "postgresql":  # the template is half migrated: 0005, not 0006
            rows = server_rows_of(project, "_template")
            assert ("crm", "0005_field5") in rows
            assert ("crm", "0006_gate") not in rows
        outs = [project.create(name) for name in ("b", "c")]
    finally:
        (gate / "release").touch()
        out, _ = runner.communicate(timeout=300)
    assert runner.returncode == 0, out
    # b never copies the half-migrated template; c may copy the template b made (SQLite: a
    # migrated copy renamed over the old file), never a stale one.
    assert COPIED not in outs[0], outs[0]
    for name in ("b", "c"):
        assert same(project.schema(name), fresh), name
    assert same(project.schema("_template"), fresh)
    assert COPIED in project.create("d")
    assert same(project.schema("d"), fresh)
    assert same(project.schema("a"), fresh)
    again = project.manage("migrate_all", "--noinput")
    assert re.search(r"\d+ applied", again) is None, again  # nothing left to migrate
    for name in ("a", "b", "c", "d", "_template"):
        assert same(project.schema(name), fresh), name
    assert project.rows() == dict.fromkeys("abcd", "")
    assert project.leftovers() == []


def server_rows_of(project: Project, name: str) -> set[tuple[str, str]]:
    from tests.support.subprocess_project import server_rows

    rows = server_rows(project.url(name), "SELECT app, name FROM django_migrations")
    return {(str(app), str(migration)) for app, migration in rows}


# 2. Creations at once --------------------------------------------------------------------------


def together(project: Project, names: list[str]) -> list[tuple[int, str]]:
    runs = [project.start("manage.py", "create_tenant", name) for name in names]
    done = []
    for run in runs:
        out, _ = run.communicate(timeout=300)
        done.append((run.returncode, out))
    return done


def test_creations_of_different_names_at_once(project: Project) -> None:
    """Three names at once, with no template (each may migrate and make it), then three with
    one (copies at once): all created, each as migrate leaves it; the template too."""
    fresh = project.reference()
    for names in (["a", "b", "c"], ["d", "e", "f"]):
        for status, out in together(project, names):
            assert status == 0, out
    for name in "abcdef":
        assert same(project.schema(name), fresh), name
    assert same(project.schema("_template"), fresh)
    assert project.rows() == dict.fromkeys("abcdef", "")
    assert project.leftovers() == []


ROUNDS = 2


def test_creations_of_one_name_at_once(project: Project) -> None:
    """Three processes create one name at once (round 0 with no template, then with one):
    one winner; the others exit 1 saying the tenant exists or is being created; one ready
    row, its database as migrate leaves it."""
    fresh = project.reference()
    for round_ in range(ROUNDS):
        name = f"same{round_}"
        runs = together(project, [name] * 3)
        won = [out for status, out in runs if status == 0]
        lost = [out for status, out in runs if status != 0]
        assert len(won) == 1, runs
        for out in lost:
            assert f"Tenant '{name}' already exists" in out, out
            assert "Traceback" not in out, out
        assert project.rows()[name] == ""
        assert same(project.schema(name), fresh), (round_, name)
    assert project.leftovers() == []


# 3. create_tenant killed -----------------------------------------------------------------------


def kill_points(engine: str) -> list[tuple[str, dict[str, Any], bool]]:
    """(label, kill spec, whether the template is dropped first: the creation migrates and
    refreshes it)."""
    lifecycle = "django_cfg.tenants.lifecycle"
    # (Killed after the claim and after "migrating" was recorded: tests/tenants/test_lifecycle.)
    points: list[tuple[str, dict[str, Any], bool]] = [
        (
            "half migrated",
            {"kind": "sql", "pattern": 'INSERT INTO "django_migrations"', "nth": 6},
            True,
        ),
        ("migrated", {"kind": "call", "target": f"{lifecycle}:_migrate"}, True),
        ("template refreshed", {"kind": "call", "target": f"{lifecycle}:refresh_template"}, True),
    ]
    if engine == "sqlite":
        points += [
            ("copied", {"kind": "call", "target": f"{lifecycle}:clone_template"}, False),
            *SQLITE_TEMPLATE_POINTS,
        ]
    else:
        points += [
            ("inside the copy", {"kind": "sql", "pattern": "CREATE DATABASE .* TEMPLATE"}, False),
            (
                "refresh: staged",
                {"kind": "sql", "pattern": "CREATE DATABASE .*_new_.* TEMPLATE"},
                True,
            ),
            ("refresh: template dropped", {"kind": "sql", "pattern": "DROP DATABASE"}, True),
        ]
    return points


def check_after_kill(project: Project, fresh: dict[str, Any], name: str, label: str) -> None:
    """No ready row without a migrated database; a current template is what migrate makes;
    create_tenant again finishes."""
    rows = project.rows()
    assert rows.get(name) != "", (label, rows)  # killed before it was ready
    for other, state in rows.items():
        if state == "":
            assert same(project.schema(other), fresh), (label, other)
    if project.exists("_template"):
        template = project.schema("_template")
        if set(template["migrations"]) == set(fresh["migrations"]):
            assert same(template, fresh), label
    listed = json.loads(project.manage("list_tenants", "--json"))
    assert all(t["state"] != "ready" for t in listed if t["name"] == name), (label, listed)
    out = project.create(name)
    assert project.rows()[name] == "", (label, out)
    assert same(project.schema(name), fresh), label


def test_a_creation_killed_at_each_step_is_finished_by_the_next(project: Project) -> None:
    project.create("a")
    fresh = project.reference()
    leftovers: dict[str, list[str]] = {}
    for number, (label, point, no_template) in enumerate(kill_points(project.engine)):
        if no_template:
            project.drop_template()
        name = f"k{number}"
        spec = {"pattern": "", "nth": 1, "when": "after", **point}
        status, out = project.killed(name, spec)
        assert status == -signal.SIGKILL, (label, status, out)  # the point was reached
        check_after_kill(project, fresh, name, label)
        if project.leftovers():
            leftovers[label] = project.leftovers()
            project.cleanup_leftovers()
    assert same(project.schema("_template"), fresh)
    assert leftovers == {}


def test_a_creation_killed_at_random_times_is_finished_by_the_next(project: Project) -> None:
    project.create("a")
    fresh = project.reference()
    started = time.monotonic()
    project.create("b")
    copy_time = time.monotonic() - started
    project.drop_template()
    started = time.monotonic()
    project.create("c")
    migrate_time = time.monotonic() - started
    rng = random.Random(int(os.environ.get("CLONE_ATTACK_SEED", "23")))
    for round_ in range(3):
        no_template = round_ % 2 == 1
        if no_template:
            project.drop_template()
        name = f"r{round_}"
        run = project.start("manage.py", "create_tenant", name)
        time.sleep(rng.uniform(0.5, migrate_time if no_template else copy_time))
        run.send_signal(signal.SIGKILL)
        run.communicate(timeout=60)
        rows = project.rows()
        if rows.get(name) == "":  # finished before the kill
            assert same(project.schema(name), fresh), round_
            continue
        check_after_kill(project, fresh, name, f"random {round_}")


# 4. A template behind the migration files ------------------------------------------------------


def test_migrate_all_killed_while_migrating_the_template(project: Project) -> None:
    """migrate_all killed while it held the template between crm 0005 (committed on
    PostgreSQL) and 0006: the template is behind by one migration, and a creation never
    copies it; a later migrate_all and creations end current."""
    project.create("a")
    project.add_gate(6, project.add_field(5, "0004_lowercase_domains"))
    fresh = project.reference()
    gate = project.folder / "gate"
    gate.mkdir()
    runner = project.start("manage.py", "migrate_all", "--noinput", env={"GATE_DIR": str(gate)})
    try:
        wait_for(gate / "held", runner)
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.communicate(timeout=60)
    created = project.create("b")
    assert COPIED not in created, created
    assert same(project.schema("b"), fresh)
    assert same(project.schema("_template"), fresh)
    project.manage("migrate_all", "--noinput")
    assert COPIED in project.create("c")
    for name in "abc":
        assert same(project.schema(name), fresh), name
    assert project.leftovers() == []


def test_a_new_tenant_app_makes_the_template_behind(project: Project) -> None:
    """A tenant app added (its migrations unknown to the template): not copied."""
    project.create("a")
    app = project.root / "extra"
    (app / "migrations").mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "migrations" / "__init__.py").write_text("")
    (app / "models.py").write_text(
        "from django.db import models\n\n\nclass Thing(models.Model):\n"
        "    name = models.CharField(max_length=10)\n"
    )
    project.env["BENCH_EXTRA_APPS"] = "extra"
    project.manage("makemigrations", "extra", "-v", "0", mode="static")
    fresh = project.reference()
    assert ("extra", "0001_initial") in fresh["migrations"]
    assert COPIED not in project.create("b")
    assert same(project.schema("b"), fresh)
    assert COPIED in project.create("c")
    assert same(project.schema("c"), fresh)


def test_a_migration_edited_in_place_is_not_copied_stale(project: Project) -> None:
    """An applied migration's file edited in place (same name: no new django_migrations row)
    after the template was made: Django's migrate of a new database runs the new content, so a
    creation must not copy the template; migrate_all leaves it (migrating would not redo the
    migration) and says so; the next creation migrates and makes it again; then creations copy
    it again."""
    project.add_field(5, "0004_lowercase_domains")
    project.create("a")  # the template, with field5 default 0
    path = project.root / "crm" / "migrations" / "0005_field5.py"
    path.write_text(
        path.read_text().replace("IntegerField(default=0)", "CharField(max_length=9, default='x')")
    )
    fresh = project.reference()
    before = project.schema("a")
    assert before != fresh  # the edit changes the schema a new database gets
    out = project.manage("migrate_all", "--noinput")
    assert "not made from the migration files on disk now" in out
    assert project.schema("a") == before  # as Django's migrate leaves it: not redone
    assert COPIED not in project.create("b")
    assert same(project.schema("b"), fresh)
    assert COPIED in project.create("c")
    assert same(project.schema("c"), fresh)
    assert "template" not in project.manage("migrate_all", "--noinput")


LONG_LIVED = """from pathlib import Path
import django
django.setup()
from django.core.management import call_command
call_command("create_tenant", "a")
path = Path("crm/migrations/0005_field5.py")
path.write_text(path.read_text().replace("IntegerField(default=0)", "CharField(max_length=9)"))
call_command("create_tenant", "b")
call_command("create_tenant", "c")
"""  # one process (a web worker's create_tenant): its crm 0005 module is loaded before the edit


def test_a_process_that_loaded_a_migration_before_its_edit_never_stamps_the_new_file(
    project: Project,
) -> None:
    """Django's loader does not import a loaded migration module again: a process that loaded
    crm 0005 before it was edited in place runs the old code. It must not pass the template it
    made for one made from the edited file: it copies it for b and c (what its own migrate
    would run); a new process migrates its first creation (the new content) and makes the
    template again; copies then are as migrate leaves a database."""
    project.add_field(5, "0004_lowercase_domains")
    before_edit = project.reference()
    (project.root / "long_lived.py").write_text(LONG_LIVED)
    run = project.run("long_lived.py")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count(COPIED) == 2, run.stdout  # b, c: copies of a, in that process
    assert same(project.schema("b"), before_edit)
    assert same(project.schema("c"), before_edit)
    fresh = project.reference()
    assert fresh != before_edit
    assert COPIED not in project.create("d")
    assert same(project.schema("d"), fresh)
    assert COPIED in project.create("e")
    assert same(project.schema("e"), fresh)


def test_a_template_made_before_stamps_is_made_again(project: Project) -> None:
    """A template without the stamp of its migration files (made by an earlier version, or
    its stamp removed): never copied, made again by the next creation, then copied."""
    project.create("a")
    project.unstamp_template()
    assert "not made from the migration files on disk now" in project.manage("migrate_all")
    assert COPIED not in project.create("b")
    assert COPIED in project.create("c")
    fresh = project.reference()
    for name in ("a", "b", "c"):
        assert same(project.schema(name), fresh), name


SQUASHED = ("crm", "0001_squashed_0003_contact_is_active_unique")


def test_a_squash_after_the_template_was_made(project: Project) -> None:
    """crm 0001-0003 squashed after the template was made: Django's migrate of a database
    records the squashed migration's row too (``check_replacements``, also on a database
    migrated before the squash, with nothing to apply). A creation must not copy a template
    without it, migrate_all must record it on the tenants and the template; then the replaced
    migrations can be deleted (the squash made a normal migration) and migrate_all still
    migrates every tenant."""
    project.create("a")  # the template: crm 0001..0004 recorded
    project.manage("squashmigrations", "crm", "0003", "--noinput", "-v", "0", mode="static")
    fresh = project.reference()
    assert SQUASHED in fresh["migrations"]
    project.create("b")
    assert same(project.schema("b"), fresh)
    project.manage("migrate_all", "--noinput")
    for name in ("a", "b", "_template"):
        assert same(project.schema(name), fresh), name
    assert COPIED in project.create("c")
    assert same(project.schema("c"), fresh)

    # The squash made a normal migration: its replaced files deleted, "replaces" removed.
    migrations = project.root / "crm" / "migrations"
    for old in ("0001_initial", "0002_contact_phone_company_name", "0003_contact_is_active_unique"):
        (migrations / f"{old}.py").unlink()
    path = migrations / f"{SQUASHED[1]}.py"
    text = path.read_text()
    start = text.index("    replaces = ")
    path.write_text(text[:start] + text[text.index("]\n", start) + 2 :])
    for dependent in (
        "crm/migrations/0004_lowercase_domains",
        *(f"{app}/migrations/0001_initial" for app in ("billing", "tickets")),
    ):
        file = project.root / f"{dependent}.py"
        text = file.read_text()
        for old in ('"0001_initial")', '"0003_contact_is_active_unique")'):
            text = text.replace(f'("crm", {old}', f'("crm", "{SQUASHED[1]}")')
        file.write_text(text)
    after = project.reference()
    project.manage("migrate_all", "--noinput")
    project.create("d")
    for name in ("a", "b", "c", "d"):
        got = project.schema(name)
        assert {k: v for k, v in got.items() if k != "migrations"} == {
            k: v for k, v in after.items() if k != "migrations"
        }, name
        assert set(after["migrations"]) <= set(got["migrations"]), name
