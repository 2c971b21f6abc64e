"""Logins and sessions read the primary by default (issue 21, point 8): with the standby's replay
paused, a user created by ``createsuperuser`` in one process logs in from another at once, and a
session written in one request is read in the next, 100 rounds, 0 misses. The same runs with
``replica_primary_reads = ()`` show what the default prevents.

Each test builds a private primary + hot standby (``tests/support/private_standby.py``) and a
``manage.py`` project on it; every step runs in a process of its own, as in production.
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
        secret_key = "primary-reads-test-" + "k" * 40
        allowed_hosts = ["testserver"]
        root_urlconf = "api.urls"
        databases = {
            "default": DatabaseConfig.from_url(os.environ["PRIMARY_URL"]),
            "replica": DatabaseConfig.from_url(os.environ["STANDBY_URL"], replica_of="default"),
        }
        if os.environ.get("NO_PRIMARY_READS"):
            replica_primary_reads = ()

    config = Config()
    """

URLS = """\
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import path

urlpatterns = [
    path("private/", login_required(lambda request: HttpResponse(request.user.username))),
]
"""

LOGIN = """\
from django.contrib.auth.models import User
from django.test import Client

on_replica = User.objects.using("replica").filter(username="admin").exists()
print("on replica:", on_replica, "logged in:", Client().login(username="admin", password="pw-1"))
"""

SESSIONS = """\
import contextvars
from django.contrib.auth.models import User
from django.test import Client

user = User.objects.get(username="admin")
misses = 0
for _ in range(100):
    client = Client()
    # Each step in a context of its own, as two requests are: the login's write pins nothing
    # for the GET (read-your-writes is per context).
    contextvars.Context().run(client.force_login, user)
    response = contextvars.Context().run(client.get, "/private/")
    misses += response.status_code != 200
print("misses:", misses)
"""


@pytest.fixture
def project(tmp_path: Path, standby: StandbyPair) -> Path:
    """A project with auth and sessions, migrated, its tables on the standby too, no users."""
    write_manage_py_project(tmp_path, CONFIG, files={"api/urls.py": URLS})
    standby.migrated(tmp_path, "auth.User")
    standby.wait_for_standby()
    return tmp_path


def create_superuser(project: Path, pair: StandbyPair, **environ: str) -> None:
    """``manage.py createsuperuser --noinput``: ``admin``, password ``pw-1``."""
    user = ("--username", "admin", "--email", "admin@example.com")
    pair.manage(
        project, "createsuperuser", "--noinput", *user, DJANGO_SUPERUSER_PASSWORD="pw-1", **environ
    )


def login_from_another_process(project: Path, pair: StandbyPair, **environ: str) -> str:
    with pair.replay_paused():
        create_superuser(project, pair, **environ)
        return pair.manage(project, "shell", "-c", LOGIN, **environ).strip().splitlines()[-1]


@pytest.mark.postgres
def test_a_superuser_created_in_one_process_logs_in_from_another_with_replay_paused(
    project: Path, standby: StandbyPair
) -> None:
    output = login_from_another_process(project, standby)
    assert output == "on replica: False logged in: True"


@pytest.mark.postgres
def test_without_primary_reads_the_login_fails_with_replay_paused(
    project: Path, standby: StandbyPair
) -> None:
    output = login_from_another_process(project, standby, NO_PRIMARY_READS="1")
    assert output == "on replica: False logged in: False"


def sessions_read_back(project: Path, pair: StandbyPair, **environ: str) -> int:
    create_superuser(project, pair)
    pair.wait_for_standby()  # the user is on the standby: only the sessions are missing there
    with pair.replay_paused():
        output = pair.manage(project, "shell", "-c", SESSIONS, **environ)
    return int(output.split("misses:")[1])


@pytest.mark.postgres
def test_a_session_written_in_one_request_is_read_in_the_next_100_rounds_replay_paused(
    project: Path, standby: StandbyPair
) -> None:
    assert sessions_read_back(project, standby) == 0


@pytest.mark.postgres
def test_without_primary_reads_sessions_are_missed_with_replay_paused(
    project: Path, standby: StandbyPair
) -> None:
    assert sessions_read_back(project, standby, NO_PRIMARY_READS="1") == 100
