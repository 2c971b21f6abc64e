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
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import chromium
from tests.example_project import ALIASES, ExampleProject
from tests.seed_page import run_python, user_environment

pytestmark = pytest.mark.browser

PASSWORD = "browser-test-password"
SEED = """
import json, os, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")
django.setup()
from django.contrib.auth import get_user_model
from apps.blog.models import Comment, Post
from apps.shop.models import Order, Product
User = get_user_model()
users = {name: User.objects.create_user(name, f"{name}@example.org", "x")
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
    run_python(
        "manage.py",
        *("createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.org"),
        cwd=project.root,
        env={**project.env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD},
    )
    return project


@pytest.fixture
def server(project: ExampleProject, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "runserver.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=project.root,
        env=user_environment(project.env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(150):  # bounded: up to ~30 s for the server to listen
            if process.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        assert process.poll() is None, (tmp_path / "runserver.log").read_text()
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_example_admin_in_chromium(
    project: ExampleProject, server: str, request: pytest.FixtureRequest
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    ids: dict[str, int] = json.loads(project.python("-c", SEED))

    def rows(alias: str, sql: str) -> set[tuple[Any, ...]]:
        return set(project.query(alias, sql))

    with chromium(request.node.name) as browser:
        wait = WebDriverWait(browser, 15)

        def open_page(path: str) -> None:
            browser.get(server + path)
            wait.until(ec.presence_of_element_located((By.ID, "footer")))

        def page() -> str:
            return str(browser.find_element(By.TAG_NAME, "body").text)

        def submit(selector: str) -> None:
            button = browser.find_element(By.CSS_SELECTOR, selector)
            browser.execute_script("arguments[0].scrollIntoView();", button)
            button.click()
            wait.until(ec.staleness_of(button))
            wait.until(ec.presence_of_element_located((By.ID, "footer")))

        def autocomplete(field: str, term: str, choice: str) -> None:
            browser.find_element(By.CSS_SELECTOR, f".field-{field} .select2-selection").click()
            search = wait.until(
                ec.visibility_of_element_located(
                    (By.CSS_SELECTOR, ".select2-container--open .select2-search__field")
                )
            )
            search.send_keys(term)
            option = wait.until(
                ec.element_to_be_clickable(
                    (
                        By.XPATH,
                        "//li[contains(@class, 'select2-results__option') and "
                        f"normalize-space()='{choice}']",
                    )
                )
            )
            option.click()

        # Log in.
        open_page("/admin/login/?next=/admin/")
        browser.find_element(By.ID, "id_username").send_keys("admin")
        browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
        submit("input[type=submit]")
        assert "Site administration" in page()

        # Add a post; its author (a user on default) chosen by autocomplete.
        open_page("/admin/blog/post/add/")
        browser.find_element(By.ID, "id_title").send_keys("Written in Chromium")
        autocomplete("author", "mar", "mary")
        submit("input[name=_save]")
        assert "was added successfully" in page()
        [(post_id, author_id)] = rows(
            "blog_db", "SELECT id, author_id FROM blog_post WHERE title = 'Written in Chromium'"
        )
        assert author_id == ids["mary"]
        assert "blog_post" not in project.tables("default")

        # Edit it: another author (autocomplete), and an inline comment whose author is a raw id.
        open_page(f"/admin/blog/post/{post_id}/change/")
        assert "mary" in browser.find_element(By.CSS_SELECTOR, ".field-author").text
        autocomplete("author", "jo", "john")
        browser.find_element(By.CSS_SELECTOR, "#comments-group .add-row a").click()
        browser.find_element(By.NAME, "comments-0-text").send_keys("Commented in Chromium")
        browser.find_element(By.NAME, "comments-0-author").send_keys(str(ids["mary"]))
        submit("input[name=_save]")
        assert "was changed successfully" in page()
        assert rows("blog_db", f"SELECT author_id FROM blog_post WHERE id = {post_id}") == {
            (ids["john"],)
        }
        assert rows(
            "blog_db", "SELECT post_id, author_id FROM blog_comment WHERE text LIKE 'Commented%'"
        ) == {(post_id, ids["mary"])}

        # "View on site" leads to the post's page.
        open_page(f"/admin/blog/post/{post_id}/change/")
        browser.find_element(By.CSS_SELECTOR, "a.viewsitelink").click()
        wait.until(ec.url_contains(f"/posts/{post_id}/"))
        assert "Written in Chromium" in page()

        # An order: its customer (a user on default) chosen in a <select>.
        open_page("/admin/shop/order/add/")
        Select(browser.find_element(By.ID, "id_customer")).select_by_visible_text("mary")
        Select(browser.find_element(By.ID, "id_product")).select_by_visible_text("Book")
        submit("input[name=_save]")
        assert rows("shop_db", "SELECT customer_id FROM shop_order") == {
            (ids["carl"],),
            (ids["mary"],),
        }

        # The post changelist shows authors (read on default) and filters by author.
        open_page("/admin/blog/post/")
        assert "Mary writes" in page() and "Hello World" in page()
        filters = browser.find_element(By.ID, "changelist-filter")
        filters.find_element(By.LINK_TEXT, "john").click()
        wait.until(ec.url_contains(f"author__id__exact={ids['john']}"))
        titles = {e.text for e in browser.find_elements(By.CSS_SELECTOR, "#result_list .field-title")}
        assert titles == {"Hello World", "Written in Chromium"}

        # A user with an order (PROTECT) cannot be deleted: Django's message, nothing deleted.
        open_page(f"/admin/accounts/user/{ids['carl']}/delete/")
        assert "would require deleting the following protected related objects" in page()
        assert "Order: 1 x Book" in page()

        # Delete john: the page lists his rows on blog_db; confirming applies on_delete there.
        open_page(f"/admin/accounts/user/{ids['john']}/delete/")
        text = page()
        assert "Comment: John was here" in text  # CASCADE, on blog_db
        for title in ("Hello World", "Written in Chromium"):  # SET_NULL, on blog_db
            assert f"Post: {title} (author will be set to NULL, on database 'blog_db')" in text
        submit("input[type=submit]")
        assert "was deleted successfully" in page()
        assert rows("default", f"SELECT id FROM accounts_user WHERE id = {ids['john']}") == set()
        assert rows("blog_db", "SELECT title, author_id FROM blog_post") == {
            ("Ann writes", ids["ann"]),
            ("Hello World", None),
            ("Mary writes", ids["mary"]),
            ("Written in Chromium", None),
        }
        assert rows("blog_db", "SELECT text FROM blog_comment") == {
            ("Bob was here",),
            ("Commented in Chromium",),
        }

        # Bulk-delete ann and bob with the "delete selected" action.
        open_page("/admin/accounts/user/")
        for name in ("ann", "bob"):
            browser.find_element(
                By.CSS_SELECTOR, f"input[name=_selected_action][value='{ids[name]}']"
            ).click()
        Select(browser.find_element(By.NAME, "action")).select_by_value("delete_selected")
        submit("button[name=index]")
        text = page()
        assert "Are you sure you want to delete the selected users?" in text
        assert "Post: Ann writes (author will be set to NULL, on database 'blog_db')" in text
        assert "Comment: Bob was here" in text
        submit("input[type=submit]")
        assert "Successfully deleted 2 users" in page()
        assert rows("default", "SELECT username FROM accounts_user") == {
            ("admin",),
            ("carl",),
            ("mary",),
        }
        assert rows("blog_db", "SELECT title, author_id FROM blog_post") == {
            ("Ann writes", None),
            ("Hello World", None),
            ("Mary writes", ids["mary"]),
            ("Written in Chromium", None),
        }
        assert rows("blog_db", "SELECT text FROM blog_comment") == {("Commented in Chromium",)}
        assert rows("shop_db", "SELECT COUNT(*) FROM shop_order") == {(2,)}
