"""Instructions per tenant request with 10, 200 and 1,000 tenants open in the process, and the
cost of opening n tenants (issue 23, point 1), counted by valgrind.

    python benchmarks/tenant_request_cost.py [OUT.json] [--drop] [--openings] [--private-postgres]
                                             [--churn]

The project is tests/tenants/project (``TenantMiddleware`` with the ``X-Tenant`` header,
``GET /notes/`` reads the tenant's notes), DEBUG off, ``TenantsConfig(names=...)`` without
``max_open``. A request is a whole WSGI request through Django's ``WSGIHandler`` (as a WSGI
server calls it: ``request_started``, the middleware, the view's query, ``request_finished``),
not the test client (which disconnects ``close_old_connections``). Every tenant is opened with
one such request first, so this thread holds a connection wrapper of each (a sync worker that
served them all); then the measured requests go to 10 of them in turn.

- ``request ENGINE OPEN PERSISTENT N``: one process, OPEN tenants opened, then N requests. Counted
  at N and 3N: (count(3N) - count(N)) / 2N is the instructions of one request.
  PERSISTENT=1: the tenants' connections stay open between requests (``conn_max_age``
  unlimited), the case where Django checks every open connection per request.
- ``open ENGINE N [MARK,...]``: one process that opens N tenants (``registry.alias_for``,
  what a tenant's first query does: ``add_database`` and the runtime rebuild) and nothing
  else; minus ``open ENGINE 0``, the cost of opening N. With marks: prints the CPU seconds
  spent opening at each mark (``tenant_open_cost.py`` runs it for two revisions).

SQLite: every tenant's file is a copy of one migrated file (made before anything is counted).
PostgreSQL: databases ``dcfg_bench_req_<tenant>`` (``DJANGO_CFG_BENCH_PG_PREFIX``) on
127.0.0.1:5432 made once with ``CREATE DATABASE ... TEMPLATE`` (kept for the next run;
``--drop`` drops them at the end, also when the run fails), and ``conn_max_age`` 0 only (the
server accepts 100 connections: kept ones would not fit; with 0 a request holds one at a time).
``--private-postgres``: instead, a server of the run's own (tests/support/private_postgres.py:
initdb in /tmp, fsync off, ``max_connections`` above the most tenants counted times the cases
counted at once), removed with its databases at the end; there the kept connections
(``conn_max_age`` unlimited) are counted too.
``BENCH_OPEN_COUNTS="sqlite=10,200 postgres=10,200,1000"`` chooses the cases (1,000 PostgreSQL
databases take ~8 GB; on the shared server they go to its streaming replica too: prefer
``--private-postgres`` past 200).
``--openings``: also ``open sqlite N`` for N in OPENINGS (``tenant_open_cost.py`` measures
them before and after).
``--churn``: also ``churn sqlite CLOSED N``: ``max_open=8``, two threads serving in turn,
CLOSED tenants served once (each past the 8th closes one), then N requests to 10 tenants in
turn, so that every request closes one, and starts in a thread the other closed one since its
last: the per-request cost must not grow with the tenants closed before (CHURN_COUNTS).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pg_server() -> str:
    """The PostgreSQL server: ``DJANGO_CFG_BENCH_PG_SERVER`` (``--private-postgres`` sets it)."""
    return os.environ.get("DJANGO_CFG_BENCH_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")


PG_PREFIX = os.environ.get("DJANGO_CFG_BENCH_PG_PREFIX", "dcfg_bench_req_")
"""The tenants' database names on the server: PG_PREFIX + tenant (a run of one's own: set it)."""
ROTATION = 10
"""The measured requests go to the first ROTATION tenants in turn."""


def names(count: int) -> list[str]:
    return [f"t{i:04d}" for i in range(count)]


def environment(engine: str, count: int, folder: str, persistent: bool) -> dict[str, str]:
    age = "?conn_max_age=unlimited" if persistent else ""
    if engine == "sqlite":
        default, template = (
            "sqlite:///default.sqlite3",
            f"sqlite:///tenants/{{tenant}}.sqlite3{age}",
        )
    else:
        default = f"{pg_server()}/{PG_PREFIX}default"
        template = f"{pg_server()}/{PG_PREFIX}{{tenant}}{age}"
    return {
        "DJANGO_SETTINGS_MODULE": "tests.tenants.project.settings",
        "TENANT_TEST_DIR": folder,
        "TENANT_TEST_DEFAULT_URL": default,
        "TENANT_TEST_URL": template,
        "TENANT_TEST_NAMES": ",".join(names(max(count, ROTATION))),
        "DJANGO_ENV": "development",
    }


def setup(engine: str, count: int, persistent: bool = False) -> None:
    """Django set up for ``count`` tenants (their databases exist and are migrated)."""
    prepare = os.environ.get("BENCH_PREPARE") == "1"
    folder = os.environ.get("BENCH_FOLDER") or tempfile.mkdtemp()
    os.environ.update(environment(engine, count, folder, persistent))
    sys.path.insert(0, str(ROOT))
    import django
    from django.conf import settings

    django.setup()
    settings.DEBUG = False
    if engine == "sqlite" and prepare:
        _sqlite_files(Path(folder), max(count, ROTATION))


def _sqlite_files(folder: Path, count: int) -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    first = names(1)[0]
    call_command("migrate", database=f"tenant_{first}", verbosity=0, interactive=False)
    from django_cfg.tenants.registry import current_registry

    registry = current_registry()
    assert registry is not None
    registry.close(first)
    source = folder / "tenants" / f"{first}.sqlite3"
    for name in names(count)[1:]:
        shutil.copyfile(source, folder / "tenants" / f"{name}.sqlite3")


def request(name: str) -> bytes:
    """One GET /notes/ as tenant ``name`` through Django's WSGI handler."""
    from io import BytesIO

    from django.core.handlers.wsgi import WSGIHandler

    handler = _handler.get("wsgi") or _handler.setdefault("wsgi", WSGIHandler())
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/notes/",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "HTTP_X_TENANT": name,
        "wsgi.input": BytesIO(b""),
        "wsgi.url_scheme": "http",
    }
    response = handler(environ, lambda status, headers: None)
    body = b"".join(response)
    response.close()  # request_finished, as a WSGI server does
    return body


_handler: dict[str, object] = {}


def count_requests(
    engine: str,
    opened: int,
    persistent: bool,
    calls: int,
    serve: Callable[[str], bytes] = request,
) -> None:
    """Every tenant served once, then ``calls`` requests to ROTATION of them in turn, each
    through ``serve`` (this thread, unless ``count_churn`` gives another)."""
    setup(engine, opened, persistent)
    tenants = names(max(opened, ROTATION))
    for name in tenants:
        body = serve(name)
        assert name.encode() in body, body[:2000]
    rotation = tenants[:ROTATION]
    for i in range(calls):
        serve(rotation[i % ROTATION])


MAX_OPEN = 8
"""``churn``: the tenants open at once (fewer than ROTATION: every request closes one)."""


def count_churn(closed: int, calls: int) -> None:
    """As ``count_requests`` with ``max_open``, served by two threads in turn (a threaded WSGI
    server's): each request starts in a thread that another closed a tenant since its last."""
    os.environ["TENANT_TEST_MAX_OPEN"] = str(MAX_OPEN)
    threads = itertools.cycle([ThreadPoolExecutor(1), ThreadPoolExecutor(1)])  # lasting threads

    def in_turn(name: str) -> bytes:
        return next(threads).submit(request, name).result()

    count_requests("sqlite", closed, False, calls, serve=in_turn)


def count_opening(engine: str, opened: int, marks: tuple[int, ...] = ()) -> None:
    """Open ``opened`` tenants; with ``marks``, print the CPU seconds spent opening at each
    (``tenant_open_cost.py``)."""
    setup(engine, max(*OPENINGS, opened))
    from django_cfg.tenants.registry import current_registry

    registry = current_registry()
    assert registry is not None
    seconds: dict[int, float] = {}
    started = time.process_time()
    for number, name in enumerate(names(opened), start=1):
        registry.alias_for(name)
        if number in marks:
            seconds[number] = time.process_time() - started
    if marks:
        print(json.dumps(seconds))


# The driver ---------------------------------------------------------------------------------

VALGRIND = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
REQUESTS = 60
OPEN_COUNTS = {"sqlite": (10, 200, 1000), "postgres": (10, 200)}
if os.environ.get("BENCH_OPEN_COUNTS"):  # e.g. "sqlite=10,1000" (a part of the run)
    OPEN_COUNTS = {
        engine: tuple(int(n) for n in counts.split(","))
        for engine, counts in (part.split("=") for part in os.environ["BENCH_OPEN_COUNTS"].split())
    }
OPENINGS = (100, 200, 400, 1000, 2000)
CHURN_COUNTS = (10, 1000, 2000)


def counted(args: list[str], env: dict[str, str]) -> int | None:
    """The instructions of one case's process; None (its error printed) when it failed, so
    the other cases are still reported."""
    done = subprocess.run(
        [*VALGRIND, sys.executable, __file__, *args],
        env={**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT / "src"), **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    if done.returncode:
        print(f"{args} failed: {done.stderr[-3000:]}", file=sys.stderr)
        return None
    return int(done.stderr.split("Collected :")[1].split()[0])


def prepared_folder() -> str:
    """A folder with ``default`` and every tenant's SQLite file migrated (shared by the runs:
    each only reads)."""
    folder = tempfile.mkdtemp(prefix="tenant_request_cost_")
    churn = CHURN_COUNTS if "--churn" in sys.argv else ()
    count = max(*OPEN_COUNTS.get("sqlite", [1]), *churn, 1)
    run = [sys.executable, __file__, "prepare", folder, str(count)]
    subprocess.run(run, env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, check=True)
    return folder


def postgres_databases(count: int) -> None:
    """``dcfg_bench_req_default`` and tenants ``t0000``.. on the server, migrated (a template)."""
    import psycopg

    with psycopg.connect(f"{pg_server()}/postgres", autocommit=True) as connection:
        have = {
            row[0]
            for row in connection.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", (PG_PREFIX + "%",)
            )
        }
        missing = [n for n in ["default", *names(count)] if PG_PREFIX + n not in have]
        if not missing:
            return
        template = PG_PREFIX + "template"
        if template not in have:  # default and a tenant "template", migrated by migrate_all
            for database in ("default", "template"):
                if PG_PREFIX + database not in have:
                    connection.execute(f'CREATE DATABASE "{PG_PREFIX}{database}"')
            env = {
                **os.environ,
                **environment("postgres", 1, tempfile.mkdtemp(), False),
                "TENANT_TEST_NAMES": "template",
                "PYTHONPATH": str(ROOT / "src"),
            }
            run = [sys.executable, "-m", "tests.tenants.project.run", "manage", "migrate_all"]
            subprocess.run([*run, "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        missing = [n for n in names(count) if PG_PREFIX + n not in have]
        for name in missing:
            connection.execute(f'CREATE DATABASE "{PG_PREFIX}{name}" TEMPLATE "{template}"')


PERSISTENT = {"sqlite": ("0", "1"), "postgres": ("0",)}


def request_jobs(sqlite_env: dict[str, str]) -> list[tuple[str, list[str], dict[str, str]]]:
    jobs = []
    for engine, counts in OPEN_COUNTS.items():
        env = sqlite_env if engine == "sqlite" else {}
        for opened in counts:
            for persistent in PERSISTENT[engine]:
                for calls in (REQUESTS, 3 * REQUESTS):
                    key = f"request {engine} {opened} {persistent} {calls}"
                    args = ["request", engine, str(opened), persistent, str(calls)]
                    jobs.append((key, args, env))
    return jobs


def workers() -> int:
    """How many cases are counted at once (``BENCH_WORKERS``, else one per core)."""
    return int(os.environ.get("BENCH_WORKERS", os.cpu_count() or 1))


def postgres_server(flags: list[str], stack: contextlib.ExitStack) -> None:
    """The PostgreSQL cases' server: a private one (``--private-postgres``, kept connections
    counted too), or the shared one (``--drop``: its databases dropped however the run ends)."""
    if "--private-postgres" in flags:
        sys.path.insert(0, str(ROOT))
        from tests.support.private_postgres import private_postgres

        kept = workers() * max(OPEN_COUNTS["postgres"])  # each counted process keeps its own
        server = stack.enter_context(private_postgres(f"max_connections={kept + 50}"))
        os.environ["DJANGO_CFG_BENCH_PG_SERVER"] = f"postgresql://postgres@127.0.0.1:{server.port}"
        PERSISTENT["postgres"] = ("0", "1")
    elif "--drop" in flags:
        stack.callback(drop_postgres_databases)
    postgres_databases(max(OPEN_COUNTS["postgres"]))


def main() -> None:
    flags = [arg for arg in sys.argv[1:] if arg.startswith("--")]
    out = next((arg for arg in sys.argv[1:] if not arg.startswith("--")), None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the cleanup below runs
    with contextlib.ExitStack() as stack:
        sqlite_env = {}
        if "sqlite" in OPEN_COUNTS or "--openings" in flags or "--churn" in flags:
            folder = prepared_folder()
            stack.callback(shutil.rmtree, folder)
            sqlite_env = {"BENCH_FOLDER": folder}
        if "postgres" in OPEN_COUNTS:
            postgres_server(flags, stack)
        jobs = request_jobs(sqlite_env)
        for opened in (0, *OPENINGS) if "--openings" in flags else ():
            jobs.append((f"open sqlite {opened}", ["open", "sqlite", str(opened)], sqlite_env))
        for closed in CHURN_COUNTS if "--churn" in flags else ():
            for calls in (REQUESTS, 3 * REQUESTS):
                args = ["churn", "sqlite", str(closed), str(calls)]
                jobs.append((f"churn sqlite {closed} {calls}", args, sqlite_env))
        with ThreadPoolExecutor(workers()) as pool:
            counts = pool.map(lambda j: counted(j[1], j[2]), jobs)
            results = dict(zip([j[0] for j in jobs], counts, strict=True))
    table = summary(results)
    print(json.dumps(table, indent=1))
    if out:
        Path(out).write_text(json.dumps({"counts": results, "summary": table}, indent=1))


def drop_postgres_databases() -> None:
    import psycopg

    with psycopg.connect(f"{pg_server()}/postgres", autocommit=True) as connection:
        found = connection.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (PG_PREFIX + "%",)
        ).fetchall()
        for (name,) in found:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def summary(results: dict[str, int | None]) -> dict[str, float | None]:
    table: dict[str, float | None] = {}
    for engine, counts in OPEN_COUNTS.items():
        for opened in counts:
            for persistent in PERSISTENT[engine]:
                low = results[f"request {engine} {opened} {persistent} {REQUESTS}"]
                high = results[f"request {engine} {opened} {persistent} {3 * REQUESTS}"]
                kind = "persistent" if persistent == "1" else "conn_max_age=0"
                each = None if low is None or high is None else round((high - low) / 2 / REQUESTS)
                table[f"{engine} {kind}, {opened} open"] = each
    for closed in CHURN_COUNTS:
        low = results.get(f"churn sqlite {closed} {REQUESTS}")
        high = results.get(f"churn sqlite {closed} {3 * REQUESTS}")
        if low is not None and high is not None:
            key = f"sqlite max_open={MAX_OPEN}, one closed per request, {closed} closed before"
            table[key] = round((high - low) / 2 / REQUESTS)
    base = results.get("open sqlite 0")
    for opened in OPENINGS if base is not None else ():
        opening = results[f"open sqlite {opened}"]
        if opening is None:  # its error was printed
            continue
        total = opening - base
        table[f"sqlite open {opened} total"] = total
        table[f"sqlite open {opened} per tenant"] = round(total / opened)
    return table


if __name__ == "__main__":
    if sys.argv[1:2] == ["request"]:
        engine, opened, persistent, calls = sys.argv[2:6]
        count_requests(engine, int(opened), persistent == "1", int(calls))
    elif sys.argv[1:2] == ["churn"]:
        count_churn(int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1:2] == ["prepare"]:
        os.environ.update(BENCH_FOLDER=sys.argv[2], BENCH_PREPARE="1")
        setup("sqlite", int(sys.argv[3]))
    elif sys.argv[1:2] == ["open"]:
        marks = tuple(int(m) for m in sys.argv[4].split(",")) if sys.argv[4:5] else ()
        count_opening(sys.argv[2], int(sys.argv[3]), marks)
    else:
        main()
