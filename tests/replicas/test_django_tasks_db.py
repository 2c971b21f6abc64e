"""django-tasks-db's worker beside a replica (issue 22): its queue table is polled with
``select_for_update`` inside a transaction on the queryset's read database, so with a replica
configured it reads on ``replica`` and locks on ``default`` outside any transaction, and dies on
its first poll. With the app in ``replica_primary_reads`` (``django_tasks_database``) its reads
go to the primary: the worker claims and runs the task there.

A private primary + hot standby (``tests/support/private_standby.py``) and a ``manage.py``
project on it; the task is enqueued and the worker (``db_worker --batch``) runs in processes of
their own. On Django 5.2 django-tasks-db runs on the ``django-tasks`` backport, on 6.x on
``django.tasks``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.manage_py_project import write_manage_py_project
from tests.support.private_standby import StandbyPair, module_standby  # noqa: F401 (standby)

CONFIG = """\
    import os
    from django_cfg import DatabaseConfig, DjangoConfig

    class Config(DjangoConfig):
        secret_key = "tasks-db-test-" + "k" * 40
        project_apps = ["django_tasks_db"]
        databases = {
            "default": DatabaseConfig.from_url(os.environ["PRIMARY_URL"]),
            "replica": DatabaseConfig.from_url(os.environ["STANDBY_URL"], replica_of="default"),
        }
        if os.environ.get("QUEUE_ON_PRIMARY"):
            replica_primary_reads = ("auth", "sessions", "django_tasks_database")
        extra_settings = {"TASKS": {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}}

    config = Config()
    """

TASKS = """\
try:
    from django.tasks import task  # Django >= 6.0
except ImportError:
    from django_tasks import task  # the backport, on Django 5.2


@task()
def add(a, b):
    return a + b
"""

WORKER = """\
from django.core.management import call_command
from django.db import connections

locked_on = []


def recorder(alias):
    def record(execute, sql, params, many, context):
        if "FOR UPDATE" in sql:
            locked_on.append(alias)
        return execute(sql, params, many, context)

    return record


try:
    with connections["default"].execute_wrapper(recorder("default")), connections[
        "replica"
    ].execute_wrapper(recorder("replica")):
        call_command("db_worker", "--batch", "--interval", "0", "--no-startup-delay")
    outcome = "finished"
except Exception as error:
    outcome = type(error).__name__ + ": " + str(error)
print("locked on:", sorted(set(locked_on)), "|", outcome)
"""

RESULT = """\
from django_tasks_db.models import DBTaskResult

row = DBTaskResult.objects.using("default").get()
print(row.status, row.return_value)
"""


@pytest.fixture
def project(tmp_path: Path, standby: StandbyPair) -> Path:
    """The project migrated (the queue table on the standby too), one task enqueued."""
    write_manage_py_project(tmp_path, CONFIG, files={"api/tasks.py": TASKS})
    standby.migrated(tmp_path, "django_tasks_database.DBTaskResult")
    standby.manage(tmp_path, "shell", "-c", "from api.tasks import add; add.enqueue(2, 3)")
    standby.wait_for_standby()  # the task is on the standby too: the poll finds it there
    return tmp_path


def last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


@pytest.mark.postgres
def test_the_worker_claims_and_runs_a_task_on_the_primary_with_the_queue_in_primary_reads(
    project: Path, standby: StandbyPair
) -> None:
    worker = standby.manage(project, "shell", "-c", WORKER, QUEUE_ON_PRIMARY="1")
    assert last_line(worker) == "locked on: ['default'] | finished"
    assert last_line(standby.manage(project, "shell", "-c", RESULT)) == "SUCCESSFUL 5"


@pytest.mark.postgres
def test_without_it_the_worker_dies_on_its_first_poll_reading_the_replica(
    project: Path, standby: StandbyPair
) -> None:
    worker = standby.manage(project, "shell", "-c", WORKER)
    assert last_line(worker) == (
        "locked on: [] | TransactionManagementError: select_for_update cannot be used outside "
        "of a transaction."
    )
    assert last_line(standby.manage(project, "shell", "-c", RESULT)) == "READY None"
