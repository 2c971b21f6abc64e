"""Fixtures of the settings tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def clean_env(monkeypatch) -> pytest.MonkeyPatch:
    for name in (
        "DJANGO_ENV",
        "DATABASE__URL",
        "DATABASE_URL",
        "DATABASE__URL_BLOG",
        "DATABASE_URL_BLOG",
        "DATABASE_URL_SHOP",
        "SECRET_KEY",
        "DEBUG",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch
