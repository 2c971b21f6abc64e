"""The operations endpoints of ``django_cfg.urls`` (issue 21, points 1 and 2): a real scrape of
``-/metrics`` parsed by prometheus-client's parser, ``healthz``, and ``readyz`` against real
servers: the shared primary and replica, a replica that refuses, a private primary that hangs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import IntegrityError, connections, transaction
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from django_cfg.runtime.runtime import current_runtime
from tests.apps.crossdb.pg_people.models import Person
from tests.support.dead_primary import CLOSED_PORT, BlackHole
from tests.support.private_postgres import PrivateServer, private_postgres

PG_ALIASES = ["postgres", "replica"]


def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(sample name, labels): value}`` of one GET -/metrics, parsed by prometheus-client."""
    answer = client.get("/-/metrics")
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.content.decode())
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def wait_for_probes(seconds: float = 10) -> None:
    """Until no probe of an earlier test is in flight; then forget every answer."""
    state = current_runtime().state
    deadline = time.monotonic() + seconds
    while state.health_in_flight and time.monotonic() < deadline:
        time.sleep(0.05)
    state.health_results.clear()


@pytest.fixture(autouse=True)
def fresh_probes() -> Iterator[None]:
    wait_for_probes()
    with override_settings(DJANGO_CFG_HEALTH_DATABASES=PG_ALIASES, DJANGO_CFG_HEALTH_MAX_AGE=0):
        yield
    wait_for_probes()


@contextmanager
def alias_at(alias: str, port: int, name: str | None = None) -> Iterator[None]:
    """``alias`` points at 127.0.0.1:``port`` (database ``name``) inside the block."""
    entry = connections.settings[alias]
    saved = {key: entry[key] for key in ("HOST", "PORT", "NAME")}
    connections[alias].close()
    entry.update(HOST="127.0.0.1", PORT=str(port), NAME=name or entry["NAME"])
    try:
        yield
    finally:
        entry.update(saved)
        connections[alias].close()


def test_healthz_answers_without_asking_a_database(client: Client) -> None:
    answer = client.get("/-/healthz")  # no django_db mark: a query would raise
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


@pytest.mark.postgres
@pytest.mark.replica
@pytest.mark.django_db(databases=["default", "postgres", "replica"], transaction=True)
def test_a_scrape_counts_the_writes_reads_and_failed_writes_of_each_alias(client: Client) -> None:
    before = scrape(client)
    people = [Person.objects.create(name=f"p{n}") for n in range(3)]
    assert Person.objects.filter(name="p0").count() + len(list(Person.objects.all())) >= 1
    with pytest.raises(IntegrityError), transaction.atomic(using="postgres"):
        Person.objects.create(pk=people[0].pk, name="duplicate")
    after = scrape(client)

    def rose(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert rose("django_cfg_writes_total", alias="postgres") == 4  # 3 + the duplicate
    reads = rose("django_cfg_reads_total", alias="postgres") + rose(
        "django_cfg_reads_total", alias="replica"
    )
    # The 2 queries' SELECTs, and the package's own (read-your-writes asks the primary its WAL
    # position after a write): every SELECT that ran is counted, where it ran.
    assert reads >= 2
    assert rose("django_cfg_failed_writes_total", alias="postgres") == 1
    # every statement is timed: 4 INSERTs, the savepoint ones and the reads at least
    assert rose("django_cfg_query_duration_seconds_count", alias="postgres") >= 4
    assert value(after, "django_cfg_database_up", alias="postgres") == 1
    assert value(after, "django_cfg_ready") == 1


@pytest.mark.postgres
@pytest.mark.replica
@pytest.mark.django_db(databases=["default", "postgres", "replica"])
def test_readyz_is_ok_when_every_database_answers_in_its_role(client: Client) -> None:
    answer = client.get("/-/readyz")
    body = answer.json()
    assert (answer.status_code, body["status"]) == (200, "ok"), body
    assert body["databases"]["postgres"]["server_role"] == "primary"
    assert body["databases"]["replica"]["server_role"] == "replica"
    assert body["databases"]["replica"]["lag_bytes"] is not None


@pytest.mark.postgres
@pytest.mark.replica
@pytest.mark.django_db(databases=["default", "postgres", "replica"])
def test_readyz_is_degraded_when_a_replica_refuses(client: Client) -> None:
    with alias_at("replica", CLOSED_PORT):
        answer = client.get("/-/readyz")
        samples = scrape(client)
    body = answer.json()
    assert (answer.status_code, body["status"]) == (200, "degraded"), body
    replica = body["databases"]["replica"]
    assert replica["reachable"] is False
    assert replica["problem"].startswith("unreachable: ")
    assert "its reads go to postgres" in replica["problem"]
    assert value(samples, "django_cfg_database_up", alias="replica") == 0
    assert value(samples, "django_cfg_degraded") == 1


@pytest.fixture(scope="module")
def private_primary() -> Iterator[PrivateServer]:
    with private_postgres() as server:
        yield server


@pytest.mark.postgres
@pytest.mark.replica
@pytest.mark.django_db(databases=["default", "postgres", "replica"])
@pytest.mark.parametrize("timeout", [1.0, 0.3])
def test_readyz_answers_503_within_its_timeout_when_the_primary_hangs(
    client: Client, private_primary: PrivateServer, timeout: float
) -> None:
    with (
        override_settings(DJANGO_CFG_HEALTH_TIMEOUT=timeout),
        alias_at("postgres", private_primary.port, name="postgres"),
    ):
        assert client.get("/-/readyz").json()["databases"]["postgres"]["reachable"] is True
        with private_primary.hung():
            started = time.monotonic()
            answer = client.get("/-/readyz")
            took = time.monotonic() - started
            second = client.get("/-/readyz")  # while the first probe may still wait: no second
            assert len(current_runtime().state.health_in_flight) <= 1
    body = answer.json()
    assert (answer.status_code, body["status"]) == (503, "unavailable"), body
    assert body["databases"]["postgres"]["problem"].startswith(
        f"cannot answer: no answer within {timeout:.1f} s"
    )
    print(f"\nreadyz with the primary hung, timeout {timeout} s: 503 after {took:.3f} s")
    assert timeout <= took < timeout + 0.25, took
    assert second.status_code == 503


@pytest.mark.postgres
@pytest.mark.replica
@pytest.mark.django_db(databases=["default", "postgres", "replica"])
def test_a_scrape_is_bounded_by_the_timeout_too(client: Client) -> None:
    hole = BlackHole()  # accepts TCP and never answers, like a hung server
    try:
        with override_settings(DJANGO_CFG_HEALTH_TIMEOUT=0.5), alias_at("postgres", hole.port):
            started = time.monotonic()
            samples = scrape(client)
            took = time.monotonic() - started
    finally:
        hole.close()
    print(f"\na scrape with the primary hung, timeout 0.5 s: {took:.3f} s")
    assert took < 0.5 + 0.25, took
    assert value(samples, "django_cfg_database_up", alias="postgres") == 0
    assert value(samples, "django_cfg_ready") == 0


def test_metrics_answer_501_naming_the_extra_without_prometheus_client(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(__import__("sys").modules, "prometheus_client", None)
    answer = client.get("/-/metrics")
    assert answer.status_code == 501
    assert "pip install 'django-cfg[metrics]'" in answer.content.decode()
    assert client.get("/-/healthz").status_code == 200
