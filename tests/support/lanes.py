"""The suite in lanes that run at once (``scripts/test.sh --parallel``, as CI runs it).

Most of the suite's time is spent waiting (subprocesses starting Django, servers creating and
dropping databases, faults held for seconds), so two pytest processes on two cores take about
half the time of one. ``DJANGO_CFG_TEST_LANE`` names the lane a process runs:

- ``tenants``: the tenant tests, but the two longest files;
- ``others``: everything else, ``tests/tenants/test_move.py`` and ``test_lifecycle.py`` included;
- ``shared-replica``: the tests marked ``replica``, run alone after the others: they pause or
  wait for the shared streaming replica's replay, which would stall the other lane's reads.

Each lane at once gets database names of its own (``scripts/test.sh``), none a prefix of the
other's: the tests drop and count databases by their prefix.
"""

from __future__ import annotations

import os

import pytest

LANES = ("tenants", "others", "shared-replica")
LANE = os.environ.pop("DJANGO_CFG_TEST_LANE", "")
"""The lane this process runs; empty: the whole suite. Taken out of the environment, so that the
pytest runs that tests start in subprocesses (tests/suite, tenants/test_xdist.py) are whole."""

_LONGEST_TENANT_FILES = {"test_move.py", "test_lifecycle.py"}


def lane_of(item: pytest.Item) -> str:
    """The lane that runs ``item``."""
    if item.get_closest_marker("replica"):
        return "shared-replica"
    path = item.path
    if path.parent.name == "tenants" and path.name not in _LONGEST_TENANT_FILES:
        return "tenants"
    return "others"


def in_this_lane(items: list[pytest.Item]) -> tuple[list[pytest.Item], list[pytest.Item]]:
    """(kept, deselected): the items of this process's lane (all of them without a lane)."""
    if not LANE:
        return items, []
    if LANE not in LANES:
        raise pytest.UsageError(f"DJANGO_CFG_TEST_LANE={LANE!r}: expected one of {LANES}")
    kept = [item for item in items if lane_of(item) == LANE]
    return kept, [item for item in items if lane_of(item) != LANE]
