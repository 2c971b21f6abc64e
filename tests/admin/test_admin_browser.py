"""The example project's admin in a real browser (headless Chromium), on SQLite and PostgreSQL.

A copy of examples/saas is migrated, given a superuser by ``manage.py createsuperuser`` (as
docs/admin.md says) and served by ``manage.py runserver --noreload``; Chromium logs in, adds and
edits posts (author by autocomplete, a comment's author by raw id, an order's customer by a
select), filters posts by author, deletes a user who has posts and bulk-deletes two users. After
each step the databases are read with bare SQL: which of default, blog_db and shop_db holds or
lost each row. On failure a screenshot and the page are saved in browser-failures/.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import Admin, chromium, create_admin, served_project  # noqa: F401 (the fixture server)
from tests.support.example_project import ALIASES, ExampleProject

pytestmark = pytest.mark.browser

CREATE_ROWS = """
import json, os, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")
django.setup()
from django.contrib.auth import get_user_model
from apps.blog.models import Comment, Post
from apps.shop.models import Order, Product
User = get_user_model()
users = {name: User.objects.create_user(name, f"{name}@example.org")  # no password: no hashing
         for name in ("john", "mary", "ann", "bob", "carl")}
hello = Post.objects.create(title="Hello World", author=users["john"])
marys = Post.objects.create(title="Mary writes", author=users["mary"])
Post.objects.create(title="Ann writes", author=users["ann"])
Comment.objects.create(post=marys, author=users["john"], text="John was here")
Comment.objects.create(post=hello, author=users["bob"], text="Bob was here")
book = Product.objects.create(name="Book", price="9.99")
Order.objects.create(customer=users["carl"], product=book)
print(json.dumps({name: user.pk for name, user in users.items()}))
"""


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", marks=pytest.mark.postgres, id="postgresql"),
    ]
)
def project(request: pytest.FixtureRequest, tmp_path: Path) -> ExampleProject:
    urls: dict[str, str] = {}
    if request.param == "postgresql":
        new_database: Callable[[], str] = request.getfixturevalue("new_postgres_database")
        urls = {alias: new_database() for alias in ALIASES}
    project = ExampleProject.copy(tmp_path, urls)
    project.manage("migrate_all", "--noinput")
    create_admin(project)
    return project


def test_example_admin_in_chromium(
    project: ExampleProject, server: str, request: pytest.FixtureRequest
) -> None:
    ids: dict[str, int] = json.loads(project.python("-c", CREATE_ROWS))
    with chromium(request.node.name) as driver:
        admin = Admin(driver, server)
        admin.log_in()
        assert "Site administration" in admin.text()
        post_id = add_and_edit(admin, project, ids)
        filter_by_author(admin, ids)
        delete_users(admin, project, ids, post_id)


def rows(project: ExampleProject, alias: str, sql: str) -> set[tuple[Any, ...]]:
    return set(project.query(alias, sql))


def add_and_edit(admin: Admin, project: ExampleProject, ids: dict[str, int]) -> int:
    """Add a post (author by autocomplete), edit it (author again, a comment's author by raw id),
    follow "View on site", add an order (customer in a <select>). Returns the post's id."""
    admin.open("/admin/blog/post/add/")
    admin.css("#id_title").send_keys("Written in Chromium")
    admin.autocomplete("author", "mar", "mary")
    admin.submit("input[name=_save]")
    assert "was added successfully" in admin.text()
    [(post_id, author_id)] = rows(
        project,
        "blog_db",
        "SELECT id, author_id FROM blog_post WHERE title = 'Written in Chromium'",
    )
    assert author_id == ids["mary"]
    assert "blog_post" not in project.tables("default")

    admin.open(f"/admin/blog/post/{post_id}/change/")
    assert "mary" in admin.css(".field-author").text
    admin.autocomplete("author", "jo", "john")
    admin.css("#comments-group .add-row a").click()
    admin.css("[name=comments-0-text]").send_keys("Commented in Chromium")
    admin.css("[name=comments-0-author]").send_keys(str(ids["mary"]))  # raw id
    admin.submit("input[name=_save]")
    assert "was changed successfully" in admin.text()
    assert rows(project, "blog_db", f"SELECT author_id FROM blog_post WHERE id = {post_id}") == {
        (ids["john"],)
    }
    sql = "SELECT post_id, author_id FROM blog_comment WHERE text LIKE 'Commented%'"
    assert rows(project, "blog_db", sql) == {(post_id, ids["mary"])}

    admin.open(f"/admin/blog/post/{post_id}/change/")
    admin.css("a.viewsitelink").click()
    admin.wait.until(lambda driver: f"/posts/{post_id}/" in driver.current_url)
    assert "Written in Chromium" in admin.text()

    admin.open("/admin/shop/order/add/")
    admin.select("#id_customer").select_by_visible_text("mary")
    admin.select("#id_product").select_by_visible_text("Book")
    admin.submit("input[name=_save]")
    assert rows(project, "shop_db", "SELECT customer_id FROM shop_order") == {
        (ids["carl"],),
        (ids["mary"],),
    }
    return int(post_id)


def filter_by_author(admin: Admin, ids: dict[str, int]) -> None:
    """The post changelist shows authors (read on default) and filters by author."""
    admin.open("/admin/blog/post/")
    assert "Mary writes" in admin.text()
    assert "Hello World" in admin.text()
    filters = admin.css("#changelist-filter")
    filters.find_element("link text", "john").click()
    admin.wait.until(lambda driver: f"author__id__exact={ids['john']}" in driver.current_url)
    admin.loaded()
    titles = {
        cell.text
        for cell in admin.driver.find_elements("css selector", "#result_list .field-title")
    }
    assert titles == {"Hello World", "Written in Chromium"}


def delete_users(admin: Admin, project: ExampleProject, ids: dict[str, int], post_id: int) -> None:
    """PROTECT refuses; deleting john lists and applies on_delete on blog_db; then a bulk delete."""
    admin.open(f"/admin/accounts/user/{ids['carl']}/delete/")
    assert "would require deleting the following protected related objects" in admin.text()
    assert "Order: 1 x Book" in admin.text()

    admin.open(f"/admin/accounts/user/{ids['john']}/delete/")
    text = admin.text()
    assert "Comment: John was here" in text  # CASCADE, on blog_db
    for title in ("Hello World", "Written in Chromium"):  # SET_NULL, on blog_db
        assert f"Post: {title} (author will be set to NULL, on database 'blog_db')" in text
    admin.submit("input[type=submit]")
    assert "was deleted successfully" in admin.text()
    assert (
        rows(project, "default", f"SELECT id FROM accounts_user WHERE id = {ids['john']}") == set()
    )
    assert rows(project, "blog_db", "SELECT title, author_id FROM blog_post") == {
        ("Ann writes", ids["ann"]),
        ("Hello World", None),
        ("Mary writes", ids["mary"]),
        ("Written in Chromium", None),
    }
    assert rows(project, "blog_db", "SELECT text FROM blog_comment") == {
        ("Bob was here",),
        ("Commented in Chromium",),
    }

    admin.open("/admin/accounts/user/")
    for name in ("ann", "bob"):
        admin.css(f"input[name=_selected_action][value='{ids[name]}']").click()
    admin.select("[name=action]").select_by_value("delete_selected")
    admin.submit("button[name=index]")
    text = admin.text()
    assert "Are you sure you want to delete the selected users?" in text
    assert "Post: Ann writes (author will be set to NULL, on database 'blog_db')" in text
    assert "Comment: Bob was here" in text
    admin.submit("input[type=submit]")
    assert "Successfully deleted 2 users" in admin.text()
    assert rows(project, "default", "SELECT username FROM accounts_user") == {
        ("admin",),
        ("carl",),
        ("mary",),
    }
    assert rows(project, "blog_db", "SELECT title, author_id FROM blog_post") == {
        ("Ann writes", None),
        ("Hello World", None),
        ("Mary writes", ids["mary"]),
        ("Written in Chromium", None),
    }
    assert rows(project, "blog_db", "SELECT text FROM blog_comment") == {("Commented in Chromium",)}
    assert rows(project, "shop_db", "SELECT COUNT(*) FROM shop_order") == {(2,)}
