"""What each database still has to migrate, and which model changes have no migration yet.

pending_migrations("blog_db")   # [PendingMigration('blog', '0002_post_slug', True), ...] in order
unmigrated_changes()            # {'blog': ['0003_comment_text']}: makemigrations would write
redact("blog_db", str(error))    # an error message without blog_db's password
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from django.apps import apps
from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper

__all__ = ["PendingMigration", "pending_migrations", "redact", "runs_on", "unmigrated_changes"]

_URL_PASSWORD = re.compile(r"(://[^/@\s:]*:)[^@\s]*@")


class PendingMigration(NamedTuple):
    app_label: str
    name: str
    runs_here: bool
    """Whether an operation of it changes this database; else migrate only records it there."""


def runs_on(alias: str, migration: Any) -> bool:
    """Whether ``migrate`` changes ``alias`` for ``migration``: the router's ``allow_migrate`` for
    a model it creates or alters (``django_cfg.DeleteIntent`` lives on every database), or for
    its app when it names no model (RunPython, RunSQL)."""
    names = {
        getattr(operation, "name_lower", None) or getattr(operation, "model_name_lower", None)
        for operation in migration.operations
    } or {None}
    return any(router.allow_migrate(alias, migration.app_label, model_name=n) for n in names)


def pending_migrations(connection: str | BaseDatabaseWrapper) -> list[PendingMigration]:
    """Every migration not yet recorded on that database, in the order ``migrate`` applies them."""
    from django.db.migrations.executor import MigrationExecutor

    wrapper = connections[connection] if isinstance(connection, str) else connection
    executor = MigrationExecutor(wrapper)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [
        PendingMigration(migration.app_label, migration.name, runs_on(wrapper.alias, migration))
        for migration, _backwards in plan
    ]


def unmigrated_changes() -> dict[str, list[str]]:
    """New migrations ``makemigrations`` would write now, by app label (no files are written)."""
    from django.db.migrations.autodetector import MigrationAutodetector
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.questioner import NonInteractiveMigrationQuestioner
    from django.db.migrations.state import ProjectState

    loader = MigrationLoader(None, ignore_no_migrations=True)
    autodetector = MigrationAutodetector(
        loader.project_state(),
        ProjectState.from_apps(apps),
        NonInteractiveMigrationQuestioner(specified_apps=set(), dry_run=True, verbosity=0),
    )
    changes: dict[str, Any] = autodetector.changes(graph=loader.graph)
    return {label: [m.name for m in migrations] for label, migrations in sorted(changes.items())}


def redact(alias: str, text: str) -> str:
    """``text`` with the password of database ``alias`` (and any in a URL) replaced by ``***``."""
    password = str(connections.settings.get(alias, {}).get("PASSWORD") or "")
    if password:
        text = text.replace(password, "***")
    return _URL_PASSWORD.sub(r"\1***@", text)
