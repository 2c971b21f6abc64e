"""Migrating many databases that take the same apps (every tenant's) from one migration graph.

    plans = SharedPlans()                      # reads the migration files once
    plan = plans.plan_for(connections["tenant_acme"])   # built once per applied set and thread
    plan.pending("tenant_acme")                # [PendingMigration(...), ...] as migrate_all prints
    plans.apply(connections["tenant_acme"], plan, verbosity=0, stdout=sys.stdout)

``manage.py migrate --database X`` reads every migration file again, builds the graph and renders
the project's model states before and after each operation of each migration (also of the
migrations whose tables live on another database: they are only recorded there, yet rendered).
For tenant databases that work is the same for every tenant that has the same migrations applied:
``SharedPlans`` does it once per distinct set of applied migrations (all new tenants share one),
keeps the rendered states, and for each database only runs the operations' SQL
(``database_forwards``, with the router's ``allow_migrate`` as always), records the rows Django
records, and sends ``pre_migrate`` / ``post_migrate`` for that database as ``migrate`` does.

What stays as ``migrate`` does it: one transaction per migration (``Migration.atomic``; see
below for SQLite and replays), an atomic operation of a non-atomic migration in its own
transaction, the history check (``InconsistentMigrationHistory``), the rows of squashed
migrations, ``prepare_database()``.
Two differences: on a database that can roll DDL back, an atomic migration's row is written in
the migration's own transaction even when it had deferred statements (Django writes it just
after the commit then); the rows are the same, and a crash can no longer leave the schema
without its row. On SQLite, consecutive atomic migrations share one transaction, each in a
savepoint: one commit instead of one per migration (each commit waits for the disk); what
succeeded before a failing migration is committed, as with ``migrate``.

On PostgreSQL, the SQL of a migration that provably writes the same statements everywhere
(``django_cfg.schema.replay``: CreateModel / AddField / AddIndex / AddConstraint, or model and
field operations the router keeps from running) is recorded on the first database of a plan and
replayed on the next: the same statements, in the migration's one transaction with its rows
(inserted as the ORM would, or saved through it when a pre_save / post_save receiver listens).
Consecutive replays share one transaction (a new tenant of benchmarks/tenant_project, 36
migrations, commits 10 times, not 36: each commit waits for the disk); a shared transaction
that fails is rolled back and its migrations run again one by one, so what is committed and
raised is what ``migrate`` leaves; if the connection failed (the answer to COMMIT may be lost),
its error is raised instead: the batch committed whole or not at all.

Databases that need ``--fake-initial`` (tables made outside migrations, a run killed half way)
are not handled here: ``migrate_all`` sends them through ``migrate``.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from django.core.management.sql import emit_post_migrate_signal, emit_pre_migrate_signal
from django.db import DatabaseError, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.exceptions import InconsistentMigrationHistory
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.operations.base import Operation
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState
from django.db.models.signals import post_save, pre_save

from django_cfg.schema.replay import (
    Capture,
    Recordings,
    ReplayKey,
    djangos_own,
    recordable,
    replay,
    replay_key,
    schema_operation,
)
from django_cfg.schema.state import PendingMigration, runs_on

__all__ = ["MigrationPlan", "SharedPlans"]

Key = tuple[str, str]


@dataclass
class Step:
    """One operation of a migration with the states Django renders around it."""

    operation: Operation
    before: ProjectState
    after: ProjectState


@dataclass
class MigrationPlan:
    """What ``migrate`` would do on a database with ``applied`` migrations recorded."""

    applied: frozenset[Key]
    migrations: list[tuple[Migration, list[Step]]] = field(default_factory=list)
    start: ProjectState = field(default_factory=ProjectState)
    end: ProjectState = field(default_factory=ProjectState)
    inconsistent: str = ""
    """The ``InconsistentMigrationHistory`` message, when a migration is recorded before one it
    depends on."""
    squashes: list[Key] = field(default_factory=list)
    """The squashed migrations recorded at the end, once every migration each replaces is:
    what ``MigrationExecutor.check_replacements`` adds after ``migrate``."""
    recordings: Recordings = field(default_factory=dict)
    """The SQL of the migrations that can be replayed (``django_cfg.schema.replay``), as
    recorded on the first database that ran them."""
    djangos_own: dict[Key, bool] = field(default_factory=dict)
    """Per migration, whether only Django's own classes render its SQL (``replay.djangos_own``:
    depends on the plan's states only, not on the database)."""

    def pending(self, alias: str) -> list[PendingMigration]:
        return [
            PendingMigration(migration.app_label, migration.name, runs_on(alias, migration))
            for migration, _steps in self.migrations
        ]


class _SharedDiskLoader(MigrationLoader):
    """Django's loader on ``connection`` (its applied rows, squashed migrations as Django
    resolves them there) with the migration files of ``disk``, read once, instead of reading
    them again (``load_disk`` reloads every migration module)."""

    def __init__(self, disk: MigrationLoader, connection: BaseDatabaseWrapper) -> None:
        self._disk = disk
        super().__init__(connection)

    def load_disk(self) -> None:
        self.disk_migrations = self._disk.disk_migrations
        self.unmigrated_apps = self._disk.unmigrated_apps
        self.migrated_apps = self._disk.migrated_apps


class SharedPlans:
    """The migration files read once, and one ``MigrationPlan`` per set of applied migrations
    and per thread (an operation may change its rendered model while it runs: AddField with a
    one-off default does)."""

    def __init__(self) -> None:
        self.disk = MigrationLoader(None)
        self._local = threading.local()

    def conflicts(self) -> dict[str, list[str]]:
        """Apps with two leaf migrations (``makemigrations --merge``), as ``migrate`` refuses."""
        conflicts: dict[str, list[str]] = self.disk.detect_conflicts()
        return conflicts

    def plan_for(self, connection: BaseDatabaseWrapper) -> MigrationPlan:
        plans: dict[frozenset[Key], MigrationPlan] = self._local.__dict__.setdefault("plans", {})
        applied = _applied(connection)
        plan = plans.get(applied)
        if plan is None:
            plan = plans[applied] = self._build(_SharedDiskLoader(self.disk, connection), applied)
        return plan

    @staticmethod
    def _build(loader: MigrationLoader, recorded: frozenset[Key]) -> MigrationPlan:
        """The plan of a database whose ``django_migrations`` holds ``recorded`` (the
        loader's ``applied_migrations`` also counts a squashed migration whose replaced ones
        are all recorded as applied, recorded or not)."""
        applied = frozenset(loader.applied_migrations or ())
        plan = MigrationPlan(applied, inconsistent=_inconsistency(loader, applied))
        executor = _PlanningExecutor(loader)
        leaves = loader.graph.leaf_nodes()
        to_run = {migration for migration, _ in executor.migration_plan(leaves)}
        full_plan = executor.migration_plan(leaves, clean_start=True)
        # What MigrationExecutor._create_project_state(with_applied_migrations=True) does.
        state = ProjectState(real_apps=loader.unmigrated_apps)
        done = {loader.graph.nodes[key] for key in applied if key in loader.graph.nodes}
        for migration, _ in full_plan:
            if migration in done:
                migration.mutate_state(state, preserve=False)
        plan.start = before = _rendered(state)
        for migration, _ in full_plan:  # the order _migrate_all_forwards applies them in
            if migration not in to_run:
                continue
            steps = []
            for operation in migration.operations:
                if before.is_delayed and not schema_operation(operation):
                    # RunPython (or any other) may drop a delayed state's models to render
                    # them again (clear_delayed_apps_cache): given all of them rendered.
                    before = _rendered(before)
                # What Migration.apply does between two operations, kept for every database:
                # the clone keeps the rendered models, the operation re-renders those it
                # changed (and, unless it delays them, the models related to them).
                after = before.clone()
                operation.state_forwards(migration.app_label, after)
                steps.append(Step(operation, before, after))
                before = after
            plan.migrations.append((migration, steps))
        plan.end = _rendered(before) if before.is_delayed else before  # as migrate's post_migrate
        plan.squashes = _squashes(loader, recorded, plan)
        return plan

    def apply(
        self,
        connection: BaseDatabaseWrapper,
        plan: MigrationPlan,
        verbosity: int,
        stdout: Any,
        progress: Callable[[Migration], None] | None = None,
    ) -> None:
        """Bring ``connection``'s database from ``plan.applied`` to the leaf migrations;
        ``progress(migration)`` after each one."""
        if plan.inconsistent:
            raise InconsistentMigrationHistory(
                plan.inconsistent.replace("{database}", connection.alias)
            )
        connection.prepare_database()
        alias = connection.alias
        migrations = _copies(plan)
        signal_plan = [(migration, False) for migration, _ in migrations]
        signal = {"apps": plan.start.apps, "plan": signal_plan, "stdout": stdout}
        emit_pre_migrate_signal(verbosity, False, alias, **signal)
        recorder = MigrationRecorder(connection)
        if migrations:
            recorder.ensure_schema()
        done = progress or _no_progress
        state = plan.start
        # SQLite: consecutive atomic migrations share one transaction; the others one each.
        in_one = connection.vendor == "sqlite"
        for shared, run in groupby(migrations, key=lambda item: in_one and item[0].atomic):
            together = _apply_in_one_transaction if shared else _apply_each
            state = together(connection, recorder, list(run), state, done, plan)
        for app_label, name in plan.squashes:
            recorder.record_applied(app_label, name)
        emit_post_migrate_signal(verbosity, False, alias, **{**signal, "apps": plan.end.apps})


def _copies(plan: MigrationPlan) -> list[tuple[Migration, list[Step]]]:
    """The plan's migrations copied with their own operations lists: pre_migrate handlers may
    insert operations (contenttypes does, where ContentType lives); the shared migrations stay
    as read."""
    copies = []
    for migration, steps in plan.migrations:
        copied = copy.copy(migration)
        setattr(copied, "operations", list(migration.operations))  # noqa: B010 (mypy)
        copies.append((copied, steps))
    return copies


def _no_progress(migration: Migration) -> None:
    """No ``progress`` given: nothing to say after each migration."""


def _apply_in_one_transaction(
    connection: BaseDatabaseWrapper,
    recorder: MigrationRecorder,
    run: list[tuple[Migration, list[Step]]],
    state: ProjectState,
    done: Callable[[Migration], None],
    plan: MigrationPlan,
) -> ProjectState:
    """SQLite: the atomic migrations of ``run`` in one transaction, each in a savepoint (one
    commit, not one per migration: a commit waits for the disk twice). What succeeded before a
    failing migration is committed, as Django's migrate leaves it; then its error is raised."""
    failed: Exception | None = None
    connection.disable_constraint_checking()  # as the schema editor does, for all
    try:
        with transaction.atomic(connection.alias):
            for migration, steps in run:
                try:
                    key = _key(connection, migration, steps, plan)
                    state = _apply(connection, recorder, migration, steps, state, plan, key)
                except Exception as error:  # rolled back to its savepoint
                    failed = error
                    break
                done(migration)
    finally:
        connection.enable_constraint_checking()
    if failed is not None:
        raise failed
    return state


def _apply_each(
    connection: BaseDatabaseWrapper,
    recorder: MigrationRecorder,
    run: list[tuple[Migration, list[Step]]],
    state: ProjectState,
    done: Callable[[Migration], None],
    plan: MigrationPlan,
) -> ProjectState:
    """Each migration of ``run`` in its own transaction, as ``migrate`` runs them, except that
    consecutive replays go together: one transaction and one message for all of them (each
    commit waits for the disk). A batch that fails is rolled back whole, then its migrations
    run one by one: the same commits, rows and error as without it; unless its session failed
    (``_rolled_back``): then its error is raised."""
    batch: list[Batched] = []
    for migration, steps in run:
        key = _key(connection, migration, steps, plan)
        every = _batched(connection, recorder, migration, plan.recordings.get(key)) if key else None
        if key is not None and every is not None:
            batch.append((migration, steps, key, every))
            continue
        state = _replay_batch(connection, recorder, batch, state, done, plan)
        batch = []
        state = _apply(connection, recorder, migration, steps, state, plan, key)
        done(migration)
    return _replay_batch(connection, recorder, batch, state, done, plan)


def _key(
    connection: BaseDatabaseWrapper, migration: Migration, steps: list[Step], plan: MigrationPlan
) -> ReplayKey | None:
    """``replay_key`` of ``migration``, the Django's-own-classes check done once per plan."""
    triples = [(step.operation, step.before, step.after) for step in steps]
    name = (migration.app_label, migration.name)
    own = plan.djangos_own.get(name)
    if own is None:
        own = plan.djangos_own[name] = djangos_own(migration, triples)
    return replay_key(connection, migration, triples, djangos=own)


def _batched(
    connection: BaseDatabaseWrapper,
    recorder: MigrationRecorder,
    migration: Migration,
    recorded: list[str] | None,
) -> list[str] | None:
    """The statements and rows of a migration that can join a batch: recorded, its rows
    inserted by SQL (no pre_save / post_save receiver to call)."""
    if recorded is None or _saves_heard(recorder):
        return None
    return [*recorded, *_rows(connection, recorder, migration)]


Batched = tuple[Migration, list[Step], ReplayKey, list[str]]
"""A migration of a batch: its steps, its replay key, its statements and rows."""


def _replay_batch(
    connection: BaseDatabaseWrapper,
    recorder: MigrationRecorder,
    batch: list[Batched],
    state: ProjectState,
    done: Callable[[Migration], None],
    plan: MigrationPlan,
) -> ProjectState:
    if len(batch) > 1:
        connection.ensure_connection()
        session = connection.connection
        try:
            replay(connection, [sql for *_, every in batch for sql in every], [])
        except DatabaseError:
            if not _rolled_back(connection, session):
                raise  # it may have committed (a lost COMMIT answer): never run it twice
        else:
            for migration, steps, _key, _every in batch:
                state = steps[-1].after if steps else state
                done(migration)
            return state
    for migration, steps, key, _every in batch:
        state = _apply(connection, recorder, migration, steps, state, plan, key)
        done(migration)
    return state


def _rolled_back(connection: BaseDatabaseWrapper, session: Any) -> bool:
    """After a batch raised: whether its transaction is known to be rolled back, i.e. the
    batch's ``session`` (the driver's connection) is still the connection's and answers:
    Django's ``atomic`` rolled the transaction back on it. A session that failed (the server or
    the network, maybe after the server got COMMIT; the connection may have been opened again
    since) leaves that unknown: the batch is all or nothing, so the database is consistent
    either way, and the next run sees which."""
    return connection.connection is session and connection.is_usable()


def _apply(
    connection: BaseDatabaseWrapper,
    recorder: MigrationRecorder,
    migration: Migration,
    steps: list[Step],
    state: ProjectState,
    plan: MigrationPlan,
    key: ReplayKey | None,
) -> ProjectState:
    """``MigrationExecutor.apply_migration`` + ``Migration.apply`` with the rendered states; a
    migration whose SQL was recorded on an earlier database (under ``key``, its ``replay_key``)
    is replayed (``schema.replay``)."""
    recorded = plan.recordings.get(key) if key is not None else None
    if recorded is not None:
        if _saves_heard(recorder):  # the receivers get the saves of the rows, as in migrate
            replay(connection, recorded, [], lambda: _record(recorder, migration))
        else:
            replay(connection, recorded, _rows(connection, recorder, migration))
        return steps[-1].after if steps else state
    if key is None:
        return _run(connection, recorder, migration, steps, state, None)
    capture = Capture()
    with connection.execute_wrapper(capture):
        state = _run(connection, recorder, migration, steps, state, capture)
    if recordable(key, capture):
        plan.recordings[key] = capture.statements
    return state


def _run(
    connection: BaseDatabaseWrapper,
    recorder: MigrationRecorder,
    migration: Migration,
    steps: list[Step],
    state: ProjectState,
    capture: Capture | None,
) -> ProjectState:
    """The migration's ``database_forwards`` in its schema editor, and its rows (which
    ``capture`` does not record)."""
    by_operation = {id(step.operation): step for step in steps}
    recorded = False
    with connection.schema_editor(atomic=migration.atomic) as editor:
        for operation in migration.operations:
            step = by_operation.get(id(operation))
            # An operation a pre_migrate handler inserted changes no state (RenameContentType).
            before, after = (step.before, step.after) if step else (state, state)
            atomic_operation = operation.atomic or (
                migration.atomic and operation.atomic is not False
            )
            if not editor.atomic_migration and atomic_operation:
                with transaction.atomic(connection.alias):
                    operation.database_forwards(migration.app_label, editor, before, after)
            else:
                operation.database_forwards(migration.app_label, editor, before, after)
            state = after
        if editor.atomic_migration or not editor.deferred_sql:
            # In the migration's transaction: its schema and its row commit together.
            _record(recorder, migration, capture)
            recorded = True
    if not recorded:
        _record(recorder, migration, capture)
    return state


class _PlanningExecutor(MigrationExecutor):
    """``MigrationExecutor.migration_plan`` on a loader already built (the shared one): no
    connection, nothing loaded again."""

    def __init__(self, loader: MigrationLoader) -> None:  # no super(): it would load from disk
        self.loader = loader


def _applied(connection: BaseDatabaseWrapper) -> frozenset[Key]:
    recorder = MigrationRecorder(connection)
    if not recorder.has_table():
        return frozenset()
    return frozenset(recorder.migration_qs.values_list("app", "name"))


def _record(
    recorder: MigrationRecorder, migration: Migration, capture: Capture | None = None
) -> None:
    """What ``MigrationExecutor.record_migration`` does, the table known to exist (not part of
    what ``capture`` records)."""
    if capture is not None:
        capture.paused = True
    try:
        for app_label, name in _recorded_names(migration):
            recorder.migration_qs.create(app=app_label, name=name)
    finally:
        if capture is not None:
            capture.paused = False


def _rows(
    connection: BaseDatabaseWrapper, recorder: MigrationRecorder, migration: Migration
) -> list[str]:
    """The INSERTs of ``migration``'s rows as ``_record`` makes them (the ORM's values:
    ``applied`` its default, now), each one statement with its values in it."""
    meta = recorder.Migration._meta
    fields: list[Any] = [meta.get_field(name) for name in ("app", "name", "applied")]
    ops: Any = connection.ops  # PostgreSQL's: compose_sql
    quote = ops.quote_name
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        "VALUES (%s, %s, %s)"
    )
    rows = []
    for app_label, name in _recorded_names(migration):
        values = [app_label, name, fields[2].get_default()]
        params = [f.get_db_prep_save(v, connection) for f, v in zip(fields, values, strict=True)]
        rows.append(ops.compose_sql(sql, params))
    return rows


def _saves_heard(recorder: MigrationRecorder) -> bool:
    """Whether a pre_save / post_save receiver listens to the rows ``_record`` saves."""
    model = recorder.Migration
    return pre_save.has_listeners(model) or post_save.has_listeners(model)


def _squashes(loader: MigrationLoader, rows: frozenset[Key], plan: MigrationPlan) -> list[Key]:
    """The squashed migrations not recorded (not in the table's ``rows``) whose replaced ones
    all will be once ``plan`` ran, in the loader's order (``check_replacements``, which reads
    the table: a database migrated before the squash gets its row, with nothing to apply)."""
    recorded = set(rows)
    for migration, _steps in plan.migrations:
        recorded.update(_recorded_names(migration))
    return [
        key
        for key, squashed in loader.replacements.items()
        if key not in recorded and all(replaced in recorded for replaced in squashed.replaces)
    ]


def _recorded_names(migration: Migration) -> list[Key]:
    """The rows a migration gets: one per migration it replaces, or its own."""
    return list(migration.replaces or [(migration.app_label, migration.name)])


def _rendered(state: ProjectState) -> ProjectState:
    """``state``'s models in a new state rendered now, in full and not delayed (so no
    operation drops its rendered apps later): shared by threads, read only."""
    rendered = ProjectState(models=state.models, real_apps=state.real_apps)
    rendered.apps  # noqa: B018 (renders)
    return rendered


def _inconsistency(loader: MigrationLoader, applied: frozenset[Key]) -> str:
    """``MigrationLoader.check_consistent_history`` on these applied rows ('' if consistent)."""
    for key in applied:
        if key not in loader.graph.nodes:
            continue
        for parent in loader.graph.node_map[key].parents:
            if parent in applied:
                continue
            replacing = loader.replacements.get(parent)
            if replacing is not None and all(m in applied for m in replacing.replaces):
                continue
            return (
                f"Migration {key[0]}.{key[1]} is applied before its dependency "
                f"{parent[0]}.{parent[1]} on database '{{database}}'."
            )
    return ""
