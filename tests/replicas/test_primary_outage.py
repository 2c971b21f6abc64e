"""A primary outage with a healthy replica (issue 13, point 3), on the real standby (5433).

The ``postgres`` alias is pointed at a closed port ("refused") or at a socket that accepts and
never answers ("hung", tests/support/dead_primary.py); its replica stays the real standby.
Reads of the replicated model must never fail, at any ``read_weight``; writes fail within the
connect timeout with an error naming the alias; a view that handles the error is not turned
into a 500 by the read-your-writes middleware; the primary takes its share back when it answers.
Each test prints its numbers (``OUTAGE ...`` lines, ``pytest -s``) for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import contextvars
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.db import OperationalError, connections
from django.test import Client, override_settings

from django_cfg.runtime.runtime import current_runtime
from django_cfg.settings.url import PRIMARY_CONNECT_TIMEOUT
from django_cfg.state.pins import current_pins
from tests.support.dead_primary import primary_down
from tests.support.replica_tools import start_replica, wait_for_replica

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.replica,
    pytest.mark.django_db(transaction=True, databases=["default", "postgres", "replica"]),
]

READS = 200
OPTIONS = {"probe_interval": 0.2, "retry_interval": 2.0, "pin_seconds": 5}


def person_model() -> Any:
    return apps.get_model("pg_people", "Person")


def roles(read_weight: float) -> dict[str, Any]:
    current = dict(settings.DATABASE_ROLES)
    current["replica"] = {"replica_of": "postgres", "read_weight": read_weight}
    return current


@pytest.fixture
def outage_ready(transactional_db: None) -> Iterator[int]:
    """A committed row on the primary and the replica; a fresh monitor for the test."""
    start_replica()
    person = person_model().objects.create(name="survives the outage")
    wait_for_replica()
    with override_settings(DATABASE_REPLICA_OPTIONS=OPTIONS):
        try:
            yield person.pk
        finally:
            if (monitor := current_runtime().monitor) is not None:
                monitor.close()
            connections["replica"].close()
            connections["postgres"].close()


def in_new_context(function: Any, *args: Any) -> Any:
    return contextvars.Context().run(function, *args)


def served_by(row: Any) -> str:
    if row._state.db == "replica" and not connections["replica"].serving_primary:
        return "standby"
    return "primary" if row._state.db == "postgres" else f"replica serving {row._state.db}"


def read_many(pk: int, reads: int = READS) -> tuple[Counter[str], list[BaseException], float]:
    """(who served each read, the failed reads, the slowest read in seconds)."""
    Person = person_model()
    served: Counter[str] = Counter()
    failed: list[BaseException] = []
    slowest = 0.0
    for _ in range(reads):
        started = time.monotonic()
        try:
            served[in_new_context(lambda: served_by(Person.objects.get(pk=pk)))] += 1
        except Exception as error:  # every failed read is counted
            failed.append(error)
        slowest = max(slowest, time.monotonic() - started)
    return served, failed, slowest


@pytest.mark.parametrize("read_weight", [0.8, 0.0, 1.0])
@pytest.mark.parametrize("how", ["refused", "hung"])
def test_no_read_of_a_replicated_model_fails_while_the_primary_is_down(
    outage_ready: int, how: str, read_weight: float
) -> None:
    with override_settings(DATABASE_ROLES=roles(read_weight)), primary_down(how):
        served, failed, slowest = read_many(outage_ready)
        monitor = current_runtime().monitor
        assert monitor is not None
        counts = dict(monitor.counters)
    print(
        f"OUTAGE reads how={how} weight={read_weight}: {dict(served)} failed={len(failed)} "
        f"slowest={slowest:.2f}s counters={counts}"
    )
    assert failed == []
    assert served == {"standby": READS}
    if read_weight < 1:
        assert counts["primary_unreachable"] >= 1  # the breaker opened
        # Every read after the first one the weights sent to the primary (READS - 1 at 0).
        assert counts["replica:primary_down"] >= (READS - 1 if read_weight == 0 else 1)
    # Only the read that found the primary down waited for it (hung: the connect timeout).
    assert slowest < PRIMARY_CONNECT_TIMEOUT + 2


@pytest.mark.parametrize("how", ["refused", "hung"])
def test_a_write_fails_within_the_timeout_names_the_alias_and_pins_nothing(
    outage_ready: int, how: str
) -> None:
    Person = person_model()

    def scenario() -> tuple[float, str, Counter[str]]:
        started = time.monotonic()
        with pytest.raises(OperationalError) as raised:
            Person.objects.create(name="lost")
        seconds = time.monotonic() - started
        assert current_pins().writes == {}  # the failed write left no marker
        after = Counter(served_by(Person.objects.get(pk=outage_ready)) for _ in range(20))
        return seconds, str(raised.value), after

    with override_settings(DATABASE_ROLES=roles(0.8)), primary_down(how):
        seconds, message, after = in_new_context(scenario)
    print(f"OUTAGE write how={how}: failed after {seconds:.2f}s; reads after it: {dict(after)}")
    assert message.startswith("database 'postgres' (127.0.0.1:")
    assert "cannot be reached" in message
    assert ("timeout" if how == "hung" else "refused") in message
    if how == "hung":
        assert PRIMARY_CONNECT_TIMEOUT - 0.5 < seconds < PRIMARY_CONNECT_TIMEOUT + 2
    else:
        assert seconds < 1
    assert after == {"standby": 20}  # same context, no pin to resolve on the dead primary


def test_a_pin_whose_primary_went_away_does_not_fail_the_read(outage_ready: int) -> None:
    """A write that committed, then the primary went away before its position was read."""
    Person = person_model()

    def scenario() -> tuple[str, dict[str, Any]]:
        Person.objects.create(name="committed, then the primary went away")  # pins, no position
        with primary_down("refused"):
            row = Person.objects.get(pk=outage_ready)
            return served_by(row), dict(current_pins().writes)

    with override_settings(DATABASE_ROLES=roles(1.0)):
        served, pins = in_new_context(scenario)
    assert (served, pins) == ("standby", {})
    monitor = current_runtime().monitor
    assert monitor is not None
    assert monitor.counters["pin_dropped:primary_down"] == 1


@pytest.mark.parametrize("how", ["refused", "hung"])
def test_the_middleware_never_answers_500_when_the_view_handled_the_error(
    outage_ready: int, how: str
) -> None:
    client = Client(raise_request_exception=False)
    with primary_down(how):
        response = client.post("/people/try/", {"name": "during the outage"})
        assert response.status_code == 503, response.content[:300]
        assert "database 'postgres'" in response.json()["error"]
        assert (
            "django_cfg_pins" not in response.cookies
            or not response.cookies["django_cfg_pins"].value
        )  # no marker for a write that failed
        reads = [client.get(f"/people/{outage_ready}/") for _ in range(20)]
    assert [r.status_code for r in reads] == [200] * 20
    assert {r.json()["database"] for r in reads} == {"replica"}


def test_the_primary_takes_its_share_back_when_it_answers(outage_ready: int) -> None:
    with override_settings(DATABASE_ROLES=roles(0.8)):
        with primary_down("refused"):
            served, failed, _ = read_many(outage_ready, 50)
            assert (served, failed) == ({"standby": 50}, [])
        back = time.monotonic()
        deadline = back + 10
        while time.monotonic() < deadline:  # the background retry (1 s after a refusal)
            if read_many(outage_ready, 20)[0]["primary"]:
                break
        returned_after = time.monotonic() - back
        served, failed, _ = read_many(outage_ready, 1000)
    print(f"OUTAGE primary back after {returned_after:.2f}s; then {dict(served)}")
    assert failed == []
    assert returned_after < 5
    assert 0.15 <= served["primary"] / 1000 <= 0.25, served  # 0.2 +- 5 points
