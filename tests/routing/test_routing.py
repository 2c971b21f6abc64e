"""The compiled Topology and the router's answers, from settings alone (no database needed)."""

from __future__ import annotations

import contextvars
import time
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import router
from django.db.utils import ConnectionRouter
from django.test import override_settings

from django_cfg.routing.router import DatabaseRouter
from django_cfg.runtime.runtime import DatabaseRuntime
from django_cfg.settings.routers import ROUTER_PATH
from django_cfg.state.pins import EMPTY, PinPolicy, Write, current_pins, set_write
from django_cfg.state.topology import Topology
from tests.apps.testapp.models import Note

DATABASES = {name: {} for name in ("default", "blog_db", "shop_db", "replica", "analytics")}


def topology(rules: dict[str, str] | None = None, **roles: dict[str, Any]) -> Topology:
    settings = SimpleNamespace(
        DATABASES=DATABASES, DATABASE_ROUTING_RULES=rules or {}, DATABASE_ROLES=roles
    )
    return Topology.from_settings(settings, app_labels={"apps.blog": "blog", "apps.shop": "shop"})


SPEC_TOPOLOGY = topology(
    {"blog": "blog_db", "shop": "shop_db"},
    replica={"replica_of": "default", "read_weight": 4},
    analytics={"read_only": True},
)
WITHOUT_REPLICAS = topology({"blog": "blog_db", "shop": "shop_db"}, analytics={"read_only": True})


def model(app_label: str) -> Any:
    return SimpleNamespace(_meta=SimpleNamespace(app_label=app_label))


def instance(app_label: str, db: str | None) -> Any:
    return SimpleNamespace(
        _meta=SimpleNamespace(app_label=app_label), _state=SimpleNamespace(db=db)
    )


def test_rules_give_each_app_a_home_and_unlisted_apps_live_on_default() -> None:
    assert SPEC_TOPOLOGY.home("blog") == "blog_db"
    assert SPEC_TOPOLOGY.home("shop") == "shop_db"
    assert SPEC_TOPOLOGY.home("auth") == "default"
    assert SPEC_TOPOLOGY.apps_on("blog_db") == ("blog",)


def test_dotted_app_paths_are_normalised_to_labels() -> None:
    compiled = topology({"apps.blog": "blog_db", "vendor.billing": "shop_db"})
    assert compiled.homes == {"blog": "blog_db", "billing": "shop_db"}
    assert compiled.rules[0].app == "apps.blog"  # kept as written, for error messages


def test_rules_from_settings_and_from_database_apps_merge_and_conflicts_are_kept() -> None:
    compiled = topology({"blog": "blog_db"}, shop_db={"apps": ["shop"]}, default={"apps": ["blog"]})
    assert compiled.homes == {"blog": "blog_db", "shop": "shop_db"}  # settings.py wins
    ((first, second),) = compiled.conflicts
    assert (first.alias, first.source) == ("blog_db", "DATABASE_ROUTING_RULES")
    assert (second.alias, second.source) == ("default", "DATABASE_ROLES['default']['apps']")


def test_roles_and_migration_targets() -> None:
    roles = SPEC_TOPOLOGY.roles
    assert roles["replica"].describe() == "replica of default"
    assert roles["replica"].read_weight == 4.0
    assert roles["analytics"].describe() == "read-only"
    assert SPEC_TOPOLOGY.primary_of("replica") == "default"
    assert [r.alias for r in SPEC_TOPOLOGY.replicas_of("default")] == ["replica"]
    assert SPEC_TOPOLOGY.migration_targets == ("default", "blog_db", "shop_db")
    # An alias that is no replica but has no apps either (the spec's plain "replica") gets none.
    assert topology().migration_targets == ("default",)


ROUTER = DatabaseRouter(WITHOUT_REPLICAS)
REPLICATED = DatabaseRouter(SPEC_TOPOLOGY)


@pytest.mark.parametrize(
    ("app", "alias"), [("blog", "blog_db"), ("shop", "shop_db"), ("auth", "default")]
)
def test_reads_and_writes_go_to_the_home_database_never_none(app: str, alias: str) -> None:
    assert ROUTER.db_for_read(model(app)) == alias
    assert ROUTER.db_for_write(model(app)) == alias
    # A hint from another home's model does not move it (forward FK access across databases).
    other = instance("blog", "blog_db") if app != "blog" else instance("shop", "shop_db")
    assert ROUTER.db_for_read(model(app), instance=other) == alias
    assert ROUTER.db_for_write(model(app), instance=other) == alias


def test_an_instance_on_another_copy_of_the_same_home_keeps_its_database() -> None:
    post_from_archive = instance("blog", "archive")  # loaded with .using("archive")
    assert ROUTER.db_for_read(model("blog"), instance=post_from_archive) == "archive"
    user_from_replica = instance("auth", "replica")
    assert REPLICATED.db_for_read(model("auth"), instance=user_from_replica) == "replica"
    # ...but writes never go to a replica or a read-only database.
    assert REPLICATED.db_for_write(model("auth"), instance=user_from_replica) == "default"
    assert ROUTER.db_for_write(model("auth"), instance=instance("auth", "analytics")) == "default"
    assert ROUTER.db_for_write(model("blog"), instance=instance("blog", "blog_db")) == "blog_db"


def test_a_write_marks_its_primary_and_a_burst_refreshes_a_time_marker_sparingly() -> None:
    runtime = DatabaseRuntime(SPEC_TOPOLOGY)  # no engines: markers by time, as on SQLite
    runtime.pins = PinPolicy(pin_seconds=5, note_again_after=3600)
    router = DatabaseRouter(runtime)
    outside = current_pins()

    def writes() -> None:
        assert router.db_for_write(model("blog")) == "blog_db"  # no replicas: nothing marked
        assert current_pins() is EMPTY
        assert router.db_for_write(Note) == "default"
        first = current_pins().writes["default"]
        assert first.lsn is None
        assert time.time() - first.at < 5
        router.db_for_write(Note)
        router.db_for_write(model("auth"))  # another model of the same primary
        assert current_pins().writes["default"] is first  # within note_again_after: kept
        runtime.pins = PinPolicy(pin_seconds=5, note_again_after=0.0)
        router.db_for_write(Note)
        assert current_pins().writes["default"] is not first  # refreshed: the pin restarts
        assert current_pins().writes["default"].at >= first.at

    contextvars.Context().run(writes)
    assert current_pins() is outside  # the markers stayed in that context


def test_a_write_marker_waiting_for_a_wal_position_is_kept_until_the_position_is_known() -> None:
    postgres = "django.db.backends.postgresql"
    runtime = DatabaseRuntime(SPEC_TOPOLOGY, engines={"default": postgres, "replica": postgres})
    runtime.pins = PinPolicy(pin_seconds=5, note_again_after=0.0)
    router = DatabaseRouter(runtime)

    def writes() -> None:
        router.db_for_write(Note)
        first = current_pins().writes["default"]
        router.db_for_write(Note)
        assert current_pins().writes["default"] is first  # the next read asks the position
        set_write("default", Write(42, first.at))  # a read asked it: the marker is complete
        router.db_for_write(Note)
        assert current_pins().writes["default"].lsn is None  # a new write: a new position

    contextvars.Context().run(writes)


def test_relations_between_primaries_and_within_one_primary_are_allowed() -> None:
    router = REPLICATED
    assert router.allow_relation(instance("blog", "blog_db"), instance("auth", "default"))
    assert router.allow_relation(instance("auth", "replica"), instance("auth", "default"))
    assert router.allow_relation(instance("blog", "blog_db"), instance("auth", "replica"))
    assert not router.allow_relation(instance("x", "analytics"), instance("auth", "default"))
    strict = DatabaseRouter(
        Topology.from_settings(
            SimpleNamespace(DATABASES=DATABASES, DATABASE_CROSS_RELATIONS=False), app_labels={}
        )
    )
    assert not strict.allow_relation(instance("blog", "blog_db"), instance("auth", "default"))
    assert strict.allow_relation(instance("auth", "replica"), instance("auth", "replica"))


@pytest.mark.parametrize(
    ("db", "app", "allowed"),
    [
        ("default", "auth", True),
        ("default", "blog", False),
        ("blog_db", "blog", True),
        ("blog_db", "auth", False),
        ("shop_db", "shop", True),
        ("replica", "auth", False),
        ("analytics", "auth", False),
        ("analytics", "blog", False),
    ],
)
def test_tables_are_created_on_the_home_primary_only(db: str, app: str, allowed: bool) -> None:
    assert REPLICATED.allow_migrate(db, app) is allowed


def test_installed_router_follows_overridden_routing_settings() -> None:
    assert router.db_for_write(Note) == "default"
    with override_settings(DATABASE_ROUTING_RULES={"testapp": "sqlite_blog"}):
        assert router.db_for_write(Note) == "sqlite_blog"
        assert router.allow_migrate("sqlite_blog", "testapp")
    assert router.db_for_write(Note) == "default"


class SendEverythingToBlog:
    def db_for_read(self, model: Any, **hints: Any) -> str:
        return "sqlite_blog"

    db_for_write = db_for_read


def test_as_the_only_router_django_calls_it_through_its_own_loop() -> None:
    assert router.db_for_read(Note) == "default"  # Django builds its routers at first use
    assert [type(r) for r in router.routers] == [DatabaseRouter]
    # django.db.router keeps Django's own methods: nothing replaced them.
    assert router.db_for_read.__func__ is ConnectionRouter.db_for_read
    assert router.db_for_write.__func__ is ConnectionRouter.db_for_write
    assert "db_for_read" not in vars(router)
    assert "db_for_write" not in vars(router)


def test_behind_another_router_djangos_loop_runs_and_comes_back_after() -> None:
    router.db_for_read(Note)
    with override_settings(DATABASE_ROUTERS=[f"{__name__}.SendEverythingToBlog", ROUTER_PATH]):
        assert router.db_for_read(Note) == "sqlite_blog"  # the first router answers
        assert router.db_for_write(Note) == "sqlite_blog"
    with override_settings(DATABASE_ROUTERS=[f"{__name__}.SendEverythingToBlog"]):
        assert router.db_for_write(Note) == "sqlite_blog"  # without django_cfg's router
    with override_settings(DATABASE_ROUTERS=[]):
        assert router.db_for_write(Note) == "default"  # Django's own fallback
    assert router.db_for_read(Note) == "default"
    assert [type(r) for r in router.routers] == [DatabaseRouter]
