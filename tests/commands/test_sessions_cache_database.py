"""A sessions/cache database (the specification's ``cache_db``): sessions and Django's database
cache routed there, by ``DatabaseConfig(apps=[...])`` (the example) or by the specification's
``DATABASE_ROUTING_RULES`` form; ``migrate_all`` creates their tables there and only there, and a
request's session and a cache entry are rows on cache_db, not on default."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from django.core import checks
from django.test import override_settings

from tests.support.example_project import ExampleProject
from tests.support.spec_page import run_process

DATABASE_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "django_cache",
    }
}

# Logs in through the admin's login view, reads a page with that session, uses the cache.
REQUESTS = """
import json, os
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")
django.setup()
from django.test.utils import setup_test_environment
setup_test_environment()
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client

get_user_model().objects.create_superuser(email="ops@example.com", password="pw-7731-x")
client = Client()
login = client.post(
    "/admin/login/?next=/admin/", {"username": "ops@example.com", "password": "pw-7731-x"}
)
index = client.get("/admin/")
cache.set("greeting", "hello from cache_db", 60)
print(json.dumps({
    "login": [login.status_code, login.headers.get("Location")],
    "index": [index.status_code, "Site administration" in index.content.decode()],
    "session_key": client.cookies["sessionid"].value,
    "cached": cache.get("greeting"),
}))
"""

RULES = """DATABASE_ROUTING_RULES = {
    'blog': 'blog_db',    # All blog app models → blog_db
    'shop': 'shop_db',    # All shop app models → shop_db
    'sessions': 'cache_db',
    'django_cache': 'cache_db',
"""


def use_rules_instead_of_apps(project: ExampleProject) -> None:
    """The specification's rule form: cache_db declared without apps=, rules in settings.py."""
    config = project.root / "api" / "config.py"
    text = config.read_text()
    assert ', apps=["sessions", "django_cache"]' in text
    config.write_text(text.replace(', apps=["sessions", "django_cache"]', ""))
    settings = project.root / "api" / "settings.py"
    text = settings.read_text()
    anchor = (
        "DATABASE_ROUTING_RULES = {\n    'blog': 'blog_db',    # All blog app models → blog_db\n"
    )
    anchor += "    'shop': 'shop_db',    # All shop app models → shop_db\n"
    assert anchor in text
    settings.write_text(text.replace(anchor, RULES))


@pytest.fixture(
    params=[
        pytest.param("sqlite"),
        pytest.param("postgresql", marks=pytest.mark.postgres),
    ]
)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize("declared_by", ["apps", "rules"])
def test_sessions_and_cache_live_on_cache_db(
    engine: str, declared_by: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if engine == "sqlite":
        urls = {"cache_db": "sqlite:///db/cache.sqlite3"}
    else:
        create = request.getfixturevalue("new_postgres_database")
        urls = {alias: create() for alias in ("default", "blog_db", "shop_db", "cache_db")}
    project = ExampleProject.copy(tmp_path, urls)
    if declared_by == "rules":
        use_rules_instead_of_apps(project)

    output = project.manage("migrate_all", "--noinput")
    assert (
        "cache_db: 2 applied: django_cfg.0001_delete_intents, sessions.0001_initial; "
        "cache table created: django_cache"
    ) in output
    assert "sessions" not in output.splitlines()[0]  # default: not its sessions any more
    assert {"django_session", "django_cache"} <= project.tables("cache_db")
    assert not {"django_session", "django_cache"} & project.tables("default")
    # migrate_all ran the system checks first: E002 accepted django_cache (else it would stop).

    result = json.loads(project.python("-c", REQUESTS).strip().splitlines()[-1])
    assert result["login"] == [302, "/admin/"]
    assert result["index"] == [200, True]  # the session was read back on the next request
    sessions = project.query("cache_db", "SELECT session_key FROM django_session")
    assert sessions == [(result["session_key"],)]
    assert result["cached"] == "hello from cache_db"
    keys = [row[0] for row in project.query("cache_db", "SELECT cache_key FROM django_cache")]
    assert keys == [":1:greeting"]
    assert "accounts_user" in project.tables("default")  # the user stays on default


def test_plan_lists_the_cache_table_until_it_exists(tmp_path: Path) -> None:
    project = ExampleProject.copy(tmp_path, {"cache_db": "sqlite:///db/cache.sqlite3"})
    plan = project.manage("migrate_all", "--plan", "--database", "cache_db")
    assert plan.splitlines() == [
        "Planned operations on cache_db:",
        "django_cfg.0001_delete_intents",
        "    Create model DeleteIntent",
        "sessions.0001_initial",
        "    Create model Session",
        "createcachetable",
        "    Create cache table django_cache",
    ]
    check = run_process(
        [sys.executable, "manage.py", "migrate_all", "--check", "--database", "cache_db"],
        cwd=project.root,
        env=project.env,
    )
    assert check.returncode == 1
    assert check.stdout == (
        "cache_db: 2 unapplied: django_cfg.0001_delete_intents, sessions.0001_initial; "
        "cache table missing: django_cache\n"
    )
    project.manage("migrate_all", "--noinput")
    plan = project.manage("migrate_all", "--plan", "--database", "cache_db")
    assert plan.splitlines() == [
        "Planned operations on cache_db:",
        "  No planned migration operations.",
    ]


# E002 and the cache's pseudo-label ------------------------------------------------------------


def rule_messages(**settings: object) -> dict[str, str]:
    with override_settings(**settings):
        found = checks.run_checks(tags=["django_cfg"])
    return {m.id: f"{m.msg} {m.hint}" for m in found if m.id and m.id.startswith("django_cfg")}


def test_the_database_cache_label_is_accepted_when_caches_use_it() -> None:
    rules = {"django_cache": "sqlite_blog", "sessions": "sqlite_blog"}
    assert rule_messages(DATABASE_ROUTING_RULES=rules, CACHES=DATABASE_CACHE) == {}


def test_the_database_cache_label_without_a_database_cache_is_an_error() -> None:
    found = rule_messages(DATABASE_ROUTING_RULES={"django_cache": "sqlite_blog"})
    assert list(found) == ["django_cfg.E002"]
    assert (
        "no cache in CACHES uses django.core.cache.backends.db.DatabaseCache"
        in (found["django_cfg.E002"])
    )


@pytest.mark.parametrize("typo", ["django_cahce", "django_caches", "cache", "session"])
def test_typos_of_the_cache_or_sessions_label_are_still_rejected(typo: str) -> None:
    found = rule_messages(DATABASE_ROUTING_RULES={typo: "sqlite_blog"}, CACHES=DATABASE_CACHE)
    assert list(found) == ["django_cfg.E002"]
    assert f"names app {typo!r}, which is not an installed app label" in found["django_cfg.E002"]
