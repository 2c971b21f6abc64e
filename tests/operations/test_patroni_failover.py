"""Failover under a real HA manager (issue 21): an app process writing through a multi-host URL
(``target_session_attrs=read-write``) to the Patroni cluster of scripts/patroni.sh keeps running
when the leader's PostgreSQL is killed, writes again within 10 s of Patroni's promotion, and no
acknowledged write is missing on the new leader (synchronous_mode). The killed node rejoins as
the synchronous standby before the test ends, so the next run starts from a healthy cluster.
Before the kill and after the promotion, the app's -/readyz and a scrape of its -/metrics
name the server that is the primary (django_cfg.urls, served by the app process itself).
Every wait is bounded: a broken cluster fails the test in under 2 minutes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from django_cfg import DatabaseConfig
from tests.support.manage_py_project import (
    DJANGO_CFG_URLS,
    SCRIPT_SETUP,
    unmanaged_model,
    write_manage_py_project,
)
from tests.support.patroni import (
    LEADER_ROLES,
    PATRONI_URL,
    Member,
    kill_postgres,
    members,
    node_role,
    wait_until_healthy,
)
from tests.support.private_postgres import free_port
from tests.support.spec_page import user_environment

pytestmark = pytest.mark.patroni

WRITERS = 4
RESUME_LIMIT = 10.0  # seconds from Patroni's promotion to the app's first acknowledged write
TABLE = "failover_write"

CONFIG = """\
    import os
    from django_cfg import DatabaseConfig, DjangoConfig

    class FailoverConfig(DjangoConfig):
        project_apps = ["writes"]
        root_urlconf = "api.urls"
        allowed_hosts = ["127.0.0.1"]
        databases = {"default": DatabaseConfig.from_url(os.environ["FAILOVER_DATABASE_URL"])}

    config = FailoverConfig()
    """

MODELS = unmanaged_model(
    "Write", TABLE, "writer = models.IntegerField()", "seq = models.IntegerField()"
)

WRITER = (
    SCRIPT_SETUP
    + f"""\
# {WRITERS} threads insert rows until stdin closes; each acknowledged insert prints
# "ok <id> <unix time>", each failure "error <unix time> <exception>". Every insert is one
# "request": Django's request signals open and close connections as they do in a view.
# It also serves django_cfg.urls (-/readyz, -/metrics) on 127.0.0.1:$FAILOVER_HTTP_PORT.
import sys, threading, time
from wsgiref.simple_server import WSGIRequestHandler, make_server

from django.core.signals import request_finished, request_started
from django.db import Error
from writes.models import Write

stop, lock = threading.Event(), threading.Lock()


def say(line):
    with lock:
        sys.stdout.write(line + "\\n")
        sys.stdout.flush()


def write(writer):
    seq = 0
    while not stop.is_set():
        seq += 1
        request_started.send(sender=None)
        try:
            row = Write.objects.create(writer=writer, seq=seq)
            say(f"ok {{row.pk}} {{time.time():.6f}}")
        except Error as error:  # InterfaceError is not a DatabaseError
            first_line = (str(error).splitlines() or [""])[0]
            say(f"error {{time.time():.6f}} {{type(error).__name__}}: {{first_line}}")
            time.sleep(0.05)
        finally:
            request_finished.send(sender=None)


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


from django.core.wsgi import get_wsgi_application

http = make_server(
    "127.0.0.1", int(os.environ["FAILOVER_HTTP_PORT"]), get_wsgi_application(),
    handler_class=QuietHandler,
)
threading.Thread(target=http.serve_forever, daemon=True).start()
threads = [threading.Thread(target=write, args=(n,)) for n in range({WRITERS})]
for thread in threads:
    thread.start()
sys.stdin.read()  # until the test closes it
stop.set()
for thread in threads:
    thread.join(10)
"""
)


@dataclass
class AppOutput:
    """What the app process printed, read by a thread as it comes."""

    acknowledged: dict[int, float] = field(default_factory=dict)  # id -> when acknowledged
    errors: list[tuple[float, str]] = field(default_factory=list)
    other: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self, stream: Iterator[str]) -> None:
        for line in stream:
            kind, _, rest = line.rstrip("\n").partition(" ")
            with self.lock:
                if kind == "ok":
                    pk, at = rest.split()
                    self.acknowledged[int(pk)] = float(at)
                elif kind == "error":
                    at, _, message = rest.partition(" ")
                    self.errors.append((float(at), message))
                else:
                    self.other.append(line)

    def acknowledged_after(self, moment: float) -> list[float]:
        with self.lock:
            return sorted(at for at in self.acknowledged.values() if at > moment)


def wait_for(what: str, seconds: float, check: object) -> float:
    """Poll ``check()`` every 0.05 s until true; the time it became true. Fails after
    ``seconds``."""
    assert callable(check)
    deadline = time.time() + seconds
    while not check():
        if time.time() > deadline:
            raise AssertionError(f"{what}: not within {seconds:.0f} s")
        time.sleep(0.05)
    return time.time()


def prepare_database() -> None:
    """The test database on the current leader, with an empty table for the app's rows."""
    import psycopg

    url = DatabaseConfig.from_url(PATRONI_URL)
    hosts = ",".join(host for host, _ in url.servers)
    ports = ",".join(str(port) for _, port in url.servers)
    server = f"host={hosts} port={ports} user={url.user} target_session_attrs=read-write"
    with psycopg.connect(f"{server} dbname=postgres connect_timeout=5", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [url.name]).fetchone():
            admin.execute(f'CREATE DATABASE "{url.name}"')
    with psycopg.connect(f"{server} dbname={url.name} connect_timeout=5", autocommit=True) as db:
        db.execute(f"DROP TABLE IF EXISTS {TABLE}")
        db.execute(f"CREATE TABLE {TABLE} (id bigserial PRIMARY KEY, writer int, seq int)")


def start_app(root: Path, url: str, http_port: int) -> subprocess.Popen[str]:
    write_manage_py_project(
        root,
        CONFIG,
        apps={"writes": MODELS},
        files={"api/urls.py": DJANGO_CFG_URLS, "writer.py": WRITER},
    )
    return subprocess.Popen(
        [sys.executable, "writer.py"],
        cwd=root,
        env=user_environment({"FAILOVER_DATABASE_URL": url, "FAILOVER_HTTP_PORT": str(http_port)}),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop_app(app: subprocess.Popen[str]) -> str:
    """Close the app's stdin (it stops writing and exits); its stderr."""
    assert app.stdin is not None
    assert app.stderr is not None
    app.stdin.close()
    try:
        app.wait(timeout=10)
    except subprocess.TimeoutExpired:
        app.kill()
        app.wait()
    return app.stderr.read()


def primary_seen_by_the_app(http_port: int) -> tuple[str, str]:
    """The server -/readyz of the app reports as the primary of "default", and the one a scrape
    of -/metrics reports (``django_cfg_database_server{role="primary"} 1``)."""
    from prometheus_client.parser import text_string_to_metric_families

    base = f"http://127.0.0.1:{http_port}/-/"
    with urllib.request.urlopen(base + "readyz", timeout=10) as answer:
        ready = json.load(answer)
    assert ready["status"] == "ok", ready
    default = ready["databases"]["default"]
    assert default["server_role"] == "primary", ready
    with urllib.request.urlopen(base + "metrics", timeout=10) as answer:
        text = answer.read().decode()
    scraped = [
        sample.labels["server"]
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "django_cfg_database_server"
        and sample.labels == {**sample.labels, "alias": "default", "role": "primary"}
        and sample.value == 1
    ]
    assert len(scraped) == 1, text
    return default["server"], scraped[0]


def rows_on(member: Member) -> set[int]:
    """The ids in the app's table on ``member``, which must be the writable server."""
    import psycopg

    name = DatabaseConfig.from_url(PATRONI_URL).name
    with psycopg.connect(member.dsn.replace("dbname=postgres", f"dbname={name}")) as connection:
        assert connection.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
        return {pk for (pk,) in connection.execute(f"SELECT id FROM {TABLE}")}


def describe_errors(errors: list[tuple[float, str]], killed_at: float) -> str:
    """How many writes failed, when (relative to the kill) and with which errors."""
    if not errors:
        return "no write failed"
    times = [at - killed_at for at, _ in errors]
    kinds = Counter(message[:140] for _, message in errors)  # "<exception class>: <first line>"
    return (
        f"{len(errors)} failed attempts from {min(times):+.2f} s to {max(times):+.2f} s: "
        + "; ".join(f"{count} x {kind}" for kind, count in kinds.most_common(3))
    )


@pytest.mark.parametrize(
    "conn_max_age",
    [0, 60],  # a connection per request (the default), and connections kept across requests
    ids=lambda seconds: f"conn_max_age={seconds}",
)
def test_the_app_survives_a_killed_leader_without_losing_an_acknowledged_write(
    tmp_path: Path, conn_max_age: int
) -> None:
    wait_until_healthy(20)  # the previous run's killed node may still be rejoining
    prepare_database()
    leader = next(m for m in members() if m.role == "leader")
    standby = next(m for m in members() if m.role == "sync_standby")
    output = AppOutput()
    separator = "&" if "?" in PATRONI_URL else "?"
    http_port = free_port()
    app = start_app(tmp_path, f"{PATRONI_URL}{separator}conn_max_age={conn_max_age}", http_port)
    assert app.stdout is not None
    reader = threading.Thread(target=output.read, args=(app.stdout,), daemon=True)
    reader.start()
    try:
        wait_for(
            "200 writes acknowledged before the kill", 10, lambda: len(output.acknowledged) >= 200
        )
        leader_address = f"{leader.host}:{leader.port}"
        assert primary_seen_by_the_app(http_port) == (leader_address, leader_address)
        killed_at = time.time()
        kill_postgres(leader)
        promoted_at = wait_for(
            f"Patroni promoting {standby.name}", 25, lambda: node_role(standby) in LEADER_ROLES
        )
        wait_for(
            "a write after the promotion",
            RESUME_LIMIT + 2,
            lambda: output.acknowledged_after(promoted_at),
        )
        resumed_at = output.acknowledged_after(promoted_at)[0]
        time.sleep(1)  # more writes on the new leader
        assert app.poll() is None, f"the app exited ({app.returncode}) during the failover"
        standby_address = f"{standby.host}:{standby.port}"
        assert primary_seen_by_the_app(http_port) == (standby_address, standby_address)
    finally:
        stderr = stop_app(app)
        reader.join(5)
    assert app.returncode == 0, stderr
    assert not output.other, output.other

    missing = set(output.acknowledged) - rows_on(standby)
    print(
        f"\nconn_max_age={conn_max_age}, {leader.name} -> {standby.name}: kill -> promotion "
        f"{promoted_at - killed_at:.2f} s, promotion -> first write "
        f"{resumed_at - promoted_at:.2f} s, {len(output.acknowledged)} writes acknowledged, "
        f"{len(missing)} missing; {describe_errors(output.errors, killed_at)}"
    )
    assert resumed_at - promoted_at <= RESUME_LIMIT
    assert not missing, f"{len(missing)} acknowledged writes missing on {standby.name}"
    assert min(output.acknowledged.values()) < killed_at < max(output.acknowledged.values())
    wait_until_healthy(40)  # the killed node rejoins (pg_rewind) as the synchronous standby
    print(
        f"{leader.name} back as the synchronous standby "
        f"{time.time() - killed_at:.1f} s after the kill"
    )


STATUS_CONFIG = """\
    import os
    from django_cfg import DatabaseConfig, DjangoConfig

    class StatusConfig(DjangoConfig):
        databases = {"default": DatabaseConfig.from_url(os.environ["FAILOVER_DATABASE_URL"])}

    config = StatusConfig()
    """


def cluster_status(root: Path) -> tuple[int, dict[str, str], str]:
    """``manage.py db_status --json --timeout 2``: its exit status, each server's role as it
    says it (``unreachable`` for none), and its output."""
    from tests.support.spec_page import run_process

    run = run_process(
        [sys.executable, "manage.py", "db_status", "--json", "--timeout", "2"],
        cwd=root,
        env={"FAILOVER_DATABASE_URL": PATRONI_URL},
        timeout=60,
    )
    listed = json.loads(run.stdout[: run.stdout.index("\n]") + 2])
    servers = listed[0]["servers"]
    roles = {s["address"]: s["server_role"] or "unreachable" for s in servers}
    return run.returncode, roles, run.stdout + run.stderr


def test_db_status_shows_the_new_roles_after_a_failover(tmp_path: Path) -> None:
    wait_until_healthy(20)
    prepare_database()
    write_manage_py_project(tmp_path, STATUS_CONFIG)
    leader = next(m for m in members() if m.role == "leader")
    standby = next(m for m in members() if m.role == "sync_standby")
    old, new = f"{leader.host}:{leader.port}", f"{standby.host}:{standby.port}"
    code, roles, text = cluster_status(tmp_path)
    assert (code, roles) == (0, {old: "primary", new: "standby"}), text

    kill_postgres(leader)
    wait_for("Patroni's promotion", 25, lambda: node_role(standby) in LEADER_ROLES)
    code, roles, text = cluster_status(tmp_path)
    # The old leader is down (or already rejoining as a standby): never a primary any more.
    assert roles[new] == "primary", text
    assert roles[old] in {"unreachable", "standby"}, text
    if roles[old] == "unreachable":
        assert code == 3, text  # degraded: a server of the URL is down, no standby left
        assert f"server {old} is unreachable" in text

    wait_until_healthy(40)
    code, roles, text = cluster_status(tmp_path)
    assert (code, roles) == (0, {old: "standby", new: "primary"}), text
