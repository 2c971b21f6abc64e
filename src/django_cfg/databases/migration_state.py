"""What each database still has to migrate, and which model changes have no migration yet.

pending_migrations("blog_db")   # [('blog', '0002_post_slug'), ...] in the order migrate applies
unmigrated_changes()            # {'blog': ['0003_comment_text']}: makemigrations would write
redact("blog_db", str(error))    # an error message without blog_db's password
"""

from __future__ import annotations

import re
from typing import Any

from django.apps import apps
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

__all__ = ["pending_migrations", "redact", "unmigrated_changes"]

_URL_PASSWORD = re.compile(r"(://[^/@\s:]*:)[^@\s]*@")


def pending_migrations(connection: str | BaseDatabaseWrapper) -> list[tuple[str, str]]:
    """``(app_label, name)`` of every migration not yet recorded on that database, in order."""
    from django.db.migrations.executor import MigrationExecutor

    wrapper = connections[connection] if isinstance(connection, str) else connection
    executor = MigrationExecutor(wrapper)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [(migration.app_label, migration.name) for migration, _backwards in plan]


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
