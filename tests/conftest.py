"""Service-backed tests: they run in CI (a missing server fails the run), skip loudly elsewhere."""

from __future__ import annotations

import os

import pytest

from tests.services import SERVICES, unreachable

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
_left_out: list[str] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, dropped = [], []
    for item in items:
        reasons = [unreachable(m) for m in SERVICES if item.get_closest_marker(m)]
        reasons = [reason for reason in reasons if reason]
        if not reasons:
            kept.append(item)
        elif IN_CI:
            pytest.exit(f"CI=true and a service is missing: {reasons[0]}", returncode=1)
        else:
            dropped.append(item)
            _left_out.extend(reason for reason in reasons if reason not in _left_out)
    if dropped:
        # Deselected, not skipped: pytest-django would still try to create their databases.
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for reason in _left_out:
        terminalreporter.write_line(
            f"NOT RUN (service missing, allowed outside CI only): {reason}", red=True, bold=True
        )
