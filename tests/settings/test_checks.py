"""Each system check: what triggers it, and that its message says where and how to fix it."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core import checks
from django.test import override_settings

from tests.support.example_project import ExampleProject

ROLES = {"sqlite_blog": {"apps": ["lite_posts"]}}


def messages(**settings: object) -> dict[str, str]:
    """``{check id: "message hint"}`` of django_cfg's checks under ``settings``."""
    with override_settings(**settings):
        found = checks.run_checks(tags=["django_cfg"])
    return {m.id: f"{m.msg} {m.hint}" for m in found if m.id and m.id.startswith("django_cfg")}


def test_the_suite_configuration_is_clean() -> None:
    assert messages() == {}


def test_rule_naming_an_unknown_alias() -> None:
    found = messages(DATABASE_ROUTING_RULES={"testapp": "blog_dbb"})
    assert list(found) == ["django_cfg.E001"]
    assert "'testapp' -> 'blog_dbb'" in found["django_cfg.E001"]
    assert "not in DATABASES" in found["django_cfg.E001"]
    assert "sqlite_blog" in found["django_cfg.E001"]  # the aliases that do exist


def test_rule_naming_an_app_that_is_not_installed() -> None:
    found = messages(DATABASE_ROUTING_RULES={"blgo": "sqlite_blog"})
    assert list(found) == ["django_cfg.E002"]
    assert "'blgo'" in found["django_cfg.E002"]
    assert "testapp" in found["django_cfg.E002"]  # the installed labels


def test_one_app_routed_to_two_databases() -> None:
    found = messages(DATABASE_ROUTING_RULES={"lite_posts": "default"})  # roles: sqlite_blog
    assert list(found) == ["django_cfg.E003"]
    assert "'lite_posts' is routed to two databases" in found["django_cfg.E003"]
    assert "'default' by DATABASE_ROUTING_RULES" in found["django_cfg.E003"]
    assert "'sqlite_blog' by DATABASE_ROLES['sqlite_blog']['apps']" in found["django_cfg.E003"]


def test_dotted_path_and_label_for_the_same_app_conflict() -> None:
    rules = {"tests.apps.testapp": "default", "testapp": "sqlite_blog"}
    found = messages(DATABASE_ROUTING_RULES=rules)
    assert "django_cfg.E003" in found


def test_rule_targeting_a_replica() -> None:
    roles = {"sqlite_blog": {"replica_of": "default", "apps": ["lite_posts"]}}
    found = messages(DATABASE_ROLES=roles)
    assert "django_cfg.E004" in found
    assert "replica of 'default'" in found["django_cfg.E004"]
    assert "Route 'lite_posts' to 'default'" in found["django_cfg.E004"]


def test_rule_targeting_a_read_only_database_is_a_warning() -> None:
    found = messages(DATABASE_ROLES={"sqlite_blog": {"read_only": True, "apps": ["lite_posts"]}})
    assert "django_cfg.W005" in found
    assert "read-only" in found["django_cfg.W005"]


def test_replica_of_a_missing_primary() -> None:
    found = messages(DATABASE_ROLES={**ROLES, "mariadb_blog": {"replica_of": "gone"}})
    assert "django_cfg.E007" in found
    assert "'mariadb_blog' is a replica of 'gone'" in found["django_cfg.E007"]


def test_cross_database_foreign_keys_when_cross_relations_are_disabled() -> None:
    found = checks.run_checks(tags=["django_cfg"])
    assert not found
    with override_settings(DATABASE_CROSS_RELATIONS=False):
        errors = [m for m in checks.run_checks(tags=["django_cfg"]) if m.id == "django_cfg.E009"]
    labels = {str(m.msg).split(" ")[0] for m in errors}
    assert "lite_posts.Post.author" in labels
    assert "pg_posts.Invoice.customer" in labels
    assert "lite_posts.Comment.post" not in labels  # same database


def test_routing_rules_without_the_router() -> None:
    found = messages(DATABASE_ROUTERS=[])
    assert list(found) == ["django_cfg.W010"]
    assert "django_cfg.routing.router.DatabaseRouter" in found["django_cfg.W010"]


# Checks that need a project of their own (their models or migrations would break the suite's).


def test_migration_giving_a_cross_database_fk_a_constraint(tmp_path: Path) -> None:
    project = ExampleProject.copy(tmp_path)
    migration = project.root / "apps" / "blog" / "migrations" / "0001_initial.py"
    migration.write_text(migration.read_text().replace("db_constraint=False, ", ""))

    assert "no issues" in project.manage("check")  # only a migrating command sees it
    output = project.manage("check", "--database", "default", check=False)
    assert "django_cfg.E006" in output
    assert "blog.Post.author (blog_db) -> accounts.User (default)" in output
    assert "makemigrations blog" in output
    refused = project.manage("migrate_all", check=False)
    assert "django_cfg.E006" in refused
    assert not (project.root / "db" / "blog.sqlite3").exists()


TAGS_FIELD = "    tags = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name='tagged')\n"
AUTHOR_MODEL = """

from apps.accounts.models import User


class Author(User):  # multi-table inheritance: its parent row lives on default
    bio = models.TextField()
"""


@pytest.mark.parametrize(
    ("addition", "relation", "kind"),
    [
        (TAGS_FIELD, "blog.Post.tags (blog_db) -> accounts.User (default)", "ManyToManyField"),
        (
            AUTHOR_MODEL,
            "blog.Author.user_ptr (blog_db) -> accounts.User (default)",
            "OneToOneField",
        ),
    ],
    ids=["many-to-many", "parent-link"],
)
def test_relation_that_always_joins_across_databases(
    tmp_path: Path, addition: str, relation: str, kind: str
) -> None:
    project = ExampleProject.copy(tmp_path)
    models = project.root / "apps" / "blog" / "models.py"
    text = models.read_text()
    if addition.startswith("    "):
        anchor = "    created_at = models.DateTimeField(auto_now_add=True)\n"
        text = text.replace(anchor, anchor + addition)
    else:
        text += addition
    models.write_text(text)
    output = project.manage("check", check=False)
    assert "django_cfg.E008" in output
    assert f"{relation}: a {kind} across databases" in output


def test_a_foreign_key_from_a_shared_model_to_a_tenant_model() -> None:
    # lite_people becomes a tenant app: lite_posts.Post.author (shared, on sqlite_blog) names
    # a Person, of which every tenant has its own.
    tenants = {"apps": ["lite_people"], "url": "sqlite:///tenants/{tenant}.sqlite3"}
    with override_settings(DJANGO_CFG_TENANTS=tenants):
        found = checks.run_checks(tags=["django_cfg"])
    errors = {
        f"{m.obj.model._meta.label}.{m.obj.name}": f"{m.msg} {m.hint}"
        for m in found
        if m.id == "django_cfg.E070"
    }
    assert sorted(errors) == [
        "lite_posts.Badge.holder",
        "lite_posts.Draft.editor",
        "lite_posts.Invoice.customer",
        "lite_posts.Post.author",
    ]
    assert all(m.level == checks.ERROR for m in found if m.id == "django_cfg.E070")
    message = errors["lite_posts.Post.author"]
    assert message.startswith(
        "The ForeignKey lite_posts.Post.author goes from a shared model (app 'lite_posts', on "
        "'sqlite_blog') to lite_people.Person, a tenant model (its app is in TenantsConfig.apps)"
    )
    assert "Reverse the relation (a ForeignKey on lite_people.Person to lite_posts.Post)" in message
    assert not [m for m in found if m.id == "django_cfg.E008"]
    # the other direction (a tenant model naming a shared row) is allowed
    assert (
        messages(DJANGO_CFG_TENANTS={**tenants, "apps": ["lite_posts"]}).get("django_cfg.E070")
        is None
    )
