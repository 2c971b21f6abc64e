"""Fixtures of the settings tests."""

from __future__ import annotations

import os

import pytest

_SETTINGS_VARIABLES = ("DATABASE", "SECRET_KEY", "DEBUG", "DJANGO_ENV")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No variable that the settings read (DATABASE*, SECRET_KEY*, DEBUG*, DJANGO_ENV*)."""
    for name in list(os.environ):
        if name.upper().startswith(_SETTINGS_VARIABLES):
            monkeypatch.delenv(name)
    return monkeypatch
