"""The read-your-writes cookie is only trusted for what this deploy can use.

Every cookie here is signed with the project's key, exactly as the middleware signs it: the
signature proves the server wrote it once, not that the alias it names still exists. Each test
sends a real request through the middleware stack (Django's test client) to a view that reports
the pins its request runs with; a cookie that cannot be used must be ignored (200, no pins) and
deleted, never answered with a 500.
"""

from __future__ import annotations

import time

import pytest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import Client, override_settings
from django.urls import path

from django_cfg.replicas.pinning import _COOKIE_SALT, COOKIE_NAME
from django_cfg.state.pins import current_pins


def pins_view(request: HttpRequest) -> HttpResponse:
    pins = current_pins()
    return JsonResponse({alias: write.lsn for alias, write in pins.writes.items()})


urlpatterns = [path("pins/", pins_view)]

pytestmark = pytest.mark.urls(__name__)


def signed(value: str) -> str:
    response = HttpResponse()  # signed exactly as the middleware signs it
    response.set_signed_cookie(COOKIE_NAME, value, salt=_COOKIE_SALT)
    return response.cookies[COOKIE_NAME].value


def request_with(value: str) -> tuple[int, dict[str, int | None], str | None]:
    """(status, pins the view saw, cookie value sent back: '' if deleted, None if untouched)."""
    client = Client(raise_request_exception=False)
    client.cookies[COOKIE_NAME] = signed(value)
    response = client.get("/pins/")
    sent = response.cookies.get(COOKIE_NAME)
    pins = response.json() if response.status_code == 200 else {}
    return response.status_code, pins, None if sent is None else sent.value


def now() -> str:
    return f"{time.time():.3f}"


def test_the_middleware_is_installed_and_a_valid_marker_pins() -> None:
    # "postgres" has a replica in the suite's settings; a WAL position needs no query.
    status, pins, sent = request_with(f"postgres:123:{now()}")
    assert (status, pins) == (200, {"postgres": 123})
    assert sent  # sent back, still pinning


@pytest.mark.parametrize(
    "value",
    [
        "gone::{now}",  # an alias this deploy removed (the 500 of issue 10)
        "gone:123:{now}",
        "gone::{now},old::{now}",
        "default::{now}",  # configured, but has no replica: nothing to pin
        "replica::{now}",  # a replica, not a primary
        "analytics:5:{now}",  # read-only
    ],
)
def test_a_marker_naming_an_alias_without_replicas_is_ignored_and_deleted(value: str) -> None:
    status, pins, sent = request_with(value.format(now=now()))
    assert (status, pins, sent) == (200, {}, "")


def test_markers_of_removed_aliases_are_dropped_and_the_rest_kept() -> None:
    status, pins, sent = request_with(f"gone::{now()},postgres:7:{now()}")
    assert (status, pins) == (200, {"postgres": 7})
    assert sent is not None
    assert sent.startswith("postgres:7:")  # re-signed with the kept marker only


@pytest.mark.parametrize(
    "value",
    [
        "",
        ",,,",
        "postgres",
        "postgres:1",
        "postgres:1:2:3",
        "postgres:-5:{now}",
        "postgres:\u00b9\u00b2:{now}",  # superscript digits: str.isdigit() accepts them
        "postgres: 12:{now}",
        "postgres:0x10:{now}",
        "postgres:1:nan",
        "postgres:1:inf",
        "postgres:1:-inf",
        "postgres:1:1e400",
        "postgres:1:later",
        "postgres:1:{future}",  # written long after now: would pin for ever
        "postgres:1:{now},postgres:x:{now}",
        "postgres:\x00:{now}",
    ],
)
def test_a_malformed_cookie_is_ignored_and_deleted(value: str) -> None:
    value = value.format(now=now(), future=f"{time.time() + 10**9:.3f}")
    status, pins, sent = request_with(value)
    assert (status, pins) == (200, {})
    assert sent == ""


def test_an_unsigned_or_forged_cookie_is_ignored() -> None:
    client = Client(raise_request_exception=False)
    client.cookies[COOKIE_NAME] = f"postgres:1:{now()}"
    response = client.get("/pins/")
    assert (response.status_code, response.json()) == (200, {})
    with override_settings(SECRET_KEY="another key, another deploy " + "x" * 40):
        forged = signed(f"postgres:1:{now()}")
    client.cookies[COOKIE_NAME] = forged
    response = client.get("/pins/")
    assert (response.status_code, response.json()) == (200, {})
