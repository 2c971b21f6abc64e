"""``migrate_all --plan``: one header per database, then only the migrations that run there."""

from __future__ import annotations

from pathlib import Path

from tests.support.example_project import ExampleProject

HEADERS = [f"Planned operations on {alias}:" for alias in ("default", "blog_db", "shop_db")]


def sections(output: str) -> dict[str, list[str]]:
    """``{header: the lines under it}``; fails on a line before the first header."""
    found: dict[str, list[str]] = {}
    current = None
    for line in output.splitlines():
        if line.startswith("Planned operations on "):
            assert line not in found, f"two headers {line!r}"
            current = found[line] = []
        else:
            assert current is not None, f"{line!r} before any header"
            current.append(line)
    return found


def test_each_database_lists_only_its_own_apps_migrations(tmp_path: Path) -> None:
    project = ExampleProject.copy(tmp_path)
    plan = sections(project.manage("migrate_all", "--plan"))
    assert list(plan) == HEADERS
    assert plan["Planned operations on blog_db:"] == [
        "blog.0001_initial",
        "    Create model Post",
        "    Create model Comment",
        "django_cfg.0001_delete_intents",  # the delete intents of django_cfg live everywhere
        "    Create model DeleteIntent",
    ]
    assert plan["Planned operations on shop_db:"] == [
        "django_cfg.0001_delete_intents",
        "    Create model DeleteIntent",
        "shop.0001_initial",
        "    Create model Product",
        "    Create model Order",
    ]
    on_default = plan["Planned operations on default:"]
    migrations = [line for line in on_default if not line.startswith("    ")]
    assert {name.split(".")[0] for name in migrations} == {
        "accounts",
        "admin",
        "auth",
        "contenttypes",
        "django_cfg",
        "sessions",
    }
    assert len(migrations) == 21
    assert all(line.startswith("    ") for line in on_default if line not in migrations)
    assert "Create model Post" not in "\n".join(on_default)
    assert project.tables("blog_db") == set()  # --plan applies nothing


def test_an_up_to_date_database_says_so_once_and_a_new_migration_shows_only_where_it_runs(
    tmp_path: Path,
) -> None:
    project = ExampleProject.copy(tmp_path)
    project.manage("migrate_all", "--noinput")
    nothing = ["  No planned migration operations."]
    assert sections(project.manage("migrate_all", "--plan")) == dict.fromkeys(HEADERS, nothing)

    models = project.root / "apps" / "blog" / "models.py"
    anchor = "    content = models.TextField(blank=True)\n"
    models.write_text(
        models.read_text().replace(anchor, anchor + "    slug = models.SlugField(default='')\n")
    )
    project.manage("makemigrations", "blog", "--name", "post_slug")
    assert sections(project.manage("migrate_all", "--plan")) == {
        "Planned operations on default:": nothing,
        "Planned operations on blog_db:": ["blog.0002_post_slug", "    Add field slug to post"],
        "Planned operations on shop_db:": nothing,
    }
