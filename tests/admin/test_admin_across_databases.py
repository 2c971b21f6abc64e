"""The Django admin over ForeignKeys that cross databases (Django's test client; fast).

Pages of tests/support/admin_across_databases_site.py on SQLite (default + sqlite_blog) and
PostgreSQL (MariaDB runs the same collector in tests/relations/test_cross_database_relations.py):
delete confirmation (single, bulk, the POST that deletes), changelists (also with ``.only()`` /
``.defer()`` in ``get_queryset()``, and single-database ones, which must stay Django's), change
forms, autocomplete, raw id, filters; then the system checks on ModelAdmins that ask for JOINs
across.
Where rows are is read with raw SQL on each database.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import django
import pytest
from django.contrib import admin
from django.contrib.admin.utils import get_deleted_objects
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth.models import Permission, User
from django.core.exceptions import FieldError
from django.db import connections
from django.db.models import QuerySet
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import path, resolve, reverse

from django_cfg import patches
from django_cfg.admin.changelist import CrossDatabaseChangeList
from django_cfg.admin.delete_page import CrossDatabaseNestedObjects
from django_cfg.checks.admin import admin_lookup_errors
from django_cfg.runtime.runtime import current_runtime
from tests.support.engine_pairs import Pair, engine_pairs

ADMIN = "tests.support.admin_across_databases_site"

# MariaDB: tests/relations/test_cross_database_relations.py; "default": the admin user
PAIRS = engine_pairs("sqlite", "postgresql", also=("default",))


@pytest.fixture(params=PAIRS)
def pair(request: pytest.FixtureRequest) -> Pair:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def client(django_user_model: Any, settings: Any) -> Client:
    """A logged-in superuser (no password: force_login, no password hashing)."""
    settings.ROOT_URLCONF = ADMIN
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("admin", "a@example.org", None))
    return client


def url(pair: Pair, model: str, view: str = "changelist", *args: Any) -> str:
    app = f"{pair.engine}_people" if model == "person" else f"{pair.engine}_posts"
    return reverse(f"crossdb_admin:{app}_{model}_{view}", args=args)


def person_with_rows(pair: Pair, name: str = "ada") -> Any:
    """A person with a post (CASCADE) and its comment, and a draft (SET_NULL).

    The test models have no __str__: the pages show "Post object (<pk>)", kept in ``shown``.
    """
    person = pair.model("Person").objects.create(name=name)
    post = pair.model("Post").objects.create(title=f"post by {name}", author=person)
    comment = pair.model("Comment").objects.create(text=f"comment on {name}", post=post)
    draft = pair.model("Draft").objects.create(title=f"draft by {name}", editor=person)
    person.shown = {type(row).__name__: str(row) for row in (post, comment, draft)}
    return person


def html(response: Any) -> str:
    assert response.status_code == 200, response.content.decode()[:2000]
    return str(response.content.decode())


# Django's names, rebound once ------------------------------------------------------------------


def test_the_admin_uses_the_cross_database_classes(rf: Any) -> None:
    """Fails if Django stops building these through the names the package rebinds."""
    import django.contrib.admin.utils

    assert django.contrib.admin.utils.NestedObjects is CrossDatabaseNestedObjects
    assert get_deleted_objects.__globals__["NestedObjects"] is CrossDatabaseNestedObjects
    from django.contrib.auth.models import Group

    model_admin = admin.ModelAdmin(Group, admin.site)
    changelist = model_admin.get_changelist(rf.get("/"))
    assert changelist is ChangeList  # Django's class: its repr() and a project's subclasses
    django_method = changelist.apply_select_related.__wrapped__  # wrapped by the package
    assert django_method.__module__ == "django.contrib.admin.views.main"
    assert issubclass(CrossDatabaseChangeList, ChangeList)  # kept for code that subclassed it


# Delete ------------------------------------------------------------------------------------------


def test_delete_page_lists_rows_on_the_other_database(client: Client, pair: Pair) -> None:
    ada = person_with_rows(pair)
    page = html(client.get(url(pair, "person", "delete", ada.pk)))
    assert "Are you sure you want to delete" in page
    shown = ada.shown
    assert f'Post: <a href="{url(pair, "post", "change", ada.posts.get().pk)}">' in page
    assert f"{shown['Post']}</a>" in page  # CASCADE, on the posts database
    assert f"{shown['Comment']}</a>" in page  # CASCADE from the post, same database as the post
    on = f"on database &#x27;{pair.posts}&#x27;"
    assert f"Draft: {shown['Draft']} (editor will be set to NULL, {on})" in page
    assert "<li>Posts: 1</li>" in page
    assert "<li>Comments: 1</li>" in page


def test_delete_post_applies_on_delete_on_the_other_database(client: Client, pair: Pair) -> None:
    ada, bob = person_with_rows(pair, "ada"), person_with_rows(pair, "bob")
    response = client.post(url(pair, "person", "delete", ada.pk), {"post": "yes"})
    assert response.status_code == 302
    assert pair.count(pair.people, "Person", f"id = {ada.pk}") == 0
    assert pair.count(pair.posts, "Post", f"author_id = {ada.pk}") == 0
    assert pair.count(pair.posts, "Comment", "text = 'comment on ada'") == 0
    assert pair.count(pair.posts, "Draft", "title = 'draft by ada' AND editor_id IS NULL") == 1
    assert pair.count(pair.people, "Person", f"id = {bob.pk}") == 1  # bob's rows untouched
    assert pair.count(pair.posts, "Post", f"author_id = {bob.pk}") == 1
    assert pair.count(pair.posts, "Draft", f"editor_id = {bob.pk}") == 1


@pytest.mark.parametrize("model", ["Invoice", "Badge"])  # PROTECT, RESTRICT
def test_protected_rows_on_the_other_database_refuse_the_delete(
    client: Client, pair: Pair, model: str
) -> None:
    ada = person_with_rows(pair)
    field = "customer" if model == "Invoice" else "holder"
    extra = {"label": "gold"} if model == "Badge" else {}
    pair.model(model).objects.create(**{field: ada}, **extra)
    page = html(client.get(url(pair, "person", "delete", ada.pk)))
    assert "would require deleting the following protected related objects" in page
    assert f"{model}: " in page
    response = client.post(url(pair, "person", "delete", ada.pk), {"post": "yes"})
    assert "would require deleting the following protected related objects" in html(response)
    assert pair.count(pair.people, "Person", f"id = {ada.pk}") == 1
    assert pair.count(pair.posts, "Post", f"author_id = {ada.pk}") == 1


def test_bulk_delete_action_confirms_then_deletes_across(client: Client, pair: Pair) -> None:
    people = [person_with_rows(pair, name) for name in ("ada", "bob", "cy")]
    chosen = {"action": "delete_selected", "_selected_action": [p.pk for p in people[:2]]}
    page = html(client.post(url(pair, "person"), chosen))
    assert "Are you sure you want to delete the selected" in page
    ada, bob, cy = (person.shown for person in people)
    assert f"{ada['Post']}</a>" in page
    assert f"{bob['Post']}</a>" in page
    assert f"{cy['Post']}</a>" not in page
    assert f"Draft: {bob['Draft']} (editor will be set to NULL" in page
    response = client.post(url(pair, "person"), {**chosen, "post": "yes"})
    assert response.status_code == 302
    ids = ", ".join(str(p.pk) for p in people[:2])
    assert pair.count(pair.people, "Person") == 1
    assert pair.count(pair.posts, "Post", f"author_id IN ({ids})") == 0
    assert pair.count(pair.posts, "Draft", "editor_id IS NULL") == 2
    assert pair.count(pair.posts, "Post", f"author_id = {people[2].pk}") == 1


def test_delete_page_queries_do_not_grow_with_related_rows(client: Client, pair: Pair) -> None:
    def queries(rows: int) -> tuple[int, int]:
        person = pair.model("Person").objects.create(name=f"n{rows}")
        for i in range(rows):
            post = pair.model("Post").objects.create(title=f"p{i}", author=person)
            pair.model("Comment").objects.create(text=f"c{i}", post=post)
            pair.model("Draft").objects.create(title=f"d{i}", editor=person)
        with (
            CaptureQueriesContext(connections[pair.people]) as people,
            CaptureQueriesContext(connections[pair.posts]) as posts,
        ):
            page = html(client.get(url(pair, "person", "delete", person.pk)))
        assert page.count("(editor will be set to NULL") == rows
        return len(people), len(posts)

    assert queries(1) == queries(6)


# Changelists, forms, widgets --------------------------------------------------------------------


def add_rows_and_get(client: Client, pair: Pair, page_url: str, rows: int) -> tuple[int, int, str]:
    """Adds ``rows`` people, each with a post and its comment, then gets ``page_url``: the
    queries it ran on the people and on the posts database, and the page."""
    for i in range(rows):
        person = pair.model("Person").objects.create(name=f"author{i}")
        post = pair.model("Post").objects.create(title=f"title{i}", author=person)
        pair.model("Comment").objects.create(text=f"text{i}", post=post)
    with (
        CaptureQueriesContext(connections[pair.people]) as people,
        CaptureQueriesContext(connections[pair.posts]) as posts,
    ):
        page = html(client.get(page_url))
    return len(people), len(posts), page


def test_changelists_follow_foreign_keys_with_one_query_per_database(
    client: Client, pair: Pair
) -> None:
    def queries(model: str, rows: int) -> tuple[int, int, str]:
        people, posts, page = add_rows_and_get(client, pair, url(pair, model), rows)
        if model == "post":
            person = pair.model("Person").objects.latest("pk")
            assert f'<td class="field-author nowrap">{person}</td>' in page
        return people, posts, page

    people_1, posts_1, _ = queries("post", 1)
    people_n, posts_n, page = queries("post", 4)  # list_display shows the author
    assert "title3" in page
    assert (people_n, posts_n) == (people_1, posts_1)
    assert people_1 >= 1  # the authors: read from their own database
    people_1, posts_1, _ = queries("comment", 1)  # list_select_related = True
    people_n, posts_n, page = queries("comment", 4)
    assert "text3" in page
    assert (people_n, posts_n) == (people_1, posts_1)


# Changelists whose ModelAdmin defers fields (.only(), .defer()) ---------------------------------


def deferring_changelist(
    settings: Any, model: Any, deferred: Callable[[QuerySet[Any]], QuerySet[Any]], **options: Any
) -> str:
    """The URL of ``model``'s changelist on a new admin site whose ``get_queryset()`` defers."""

    def get_queryset(self: Any, request: Any) -> QuerySet[Any]:
        return deferred(admin.ModelAdmin.get_queryset(self, request))

    site = admin.AdminSite(name="deferring")
    attributes = {"__module__": __name__, "get_queryset": get_queryset, **options}
    site.register(model, type("DeferringAdmin", (admin.ModelAdmin,), attributes))
    urls = ModuleType("deferring_urls")
    urls.urlpatterns = [path("admin/", site.urls)]  # type: ignore[attr-defined]
    settings.ROOT_URLCONF = urls
    return reverse(f"deferring:{model._meta.app_label}_{model._meta.model_name}_changelist")


def rows(client: Client, page_url: str) -> str:
    """The changelist's table body, or the ``FieldError`` that the page raised."""
    try:
        page = html(client.get(page_url))
    except FieldError as error:
        return f"FieldError: {error}"
    return page[page.index("<tbody>") : page.index("</tbody>")]


def rows_on_plain_django(client: Client, page_url: str) -> str:
    """``rows()`` with Django's own admin: the package's patches uninstalled meanwhile."""
    patches.uninstall()
    try:
        return rows(client, page_url)
    finally:
        patches.install(current_runtime().topology)


ONLY_AND_DEFER = [
    pytest.param(lambda qs: qs.only("name", "codename"), id="only"),
    pytest.param(lambda qs: qs.defer("content_type"), id="defer"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("deferred", ONLY_AND_DEFER)
def test_select_related_true_on_one_database_keeps_djangos_query(
    client: Client, settings: Any, deferred: Any
) -> None:
    """Permission -> ContentType, both on default: the changelist is Django's, deferral and all."""
    page_url = deferring_changelist(
        settings, Permission, deferred, list_display=["name"], list_select_related=True
    )
    shown = rows(client, page_url)
    assert "Can add log entry" in shown  # 200 with the rows: Django 5.2 and 6.1 alike
    assert shown == rows_on_plain_django(client, page_url)
    request = RequestFactory().get(page_url)
    request.user = User.objects.get(username="admin")
    model_admin = resolve(page_url).func.model_admin  # type: ignore[attr-defined]
    queryset = model_admin.get_changelist_instance(request).queryset
    assert queryset.query.select_related is True  # left alone: no explicit paths
    assert not queryset._prefetch_related_lookups


@pytest.mark.django_db
@pytest.mark.parametrize("deferred", ONLY_AND_DEFER)
def test_a_foreign_key_in_list_display_on_one_database_keeps_djangos_query(
    client: Client, settings: Any, deferred: Any
) -> None:
    """Django 5.2 turns a ForeignKey in list_display into select_related(): a 200 page; 6.1 names
    the ForeignKey, so a deferred one is Django's own FieldError. Either way, Django's result."""
    page_url = deferring_changelist(
        settings, Permission, deferred, list_display=["name", "content_type"]
    )
    shown = rows(client, page_url)
    assert shown == rows_on_plain_django(client, page_url)
    if django.VERSION < (6, 1):
        assert "Can add log entry" in shown
        assert '<td class="field-content_type nowrap">' in shown
    else:
        assert shown.startswith("FieldError: Field Permission.content_type cannot be both deferred")


@pytest.mark.parametrize(
    ("model", "deferred", "options"),
    [
        pytest.param("Post", lambda qs: qs.defer("author"), {}, id="post-defer-author"),
        pytest.param("Post", lambda qs: qs.only("title"), {}, id="post-only-title"),
        pytest.param(
            "Comment",  # post (same database, deferred) then post.author (across)
            lambda qs: qs.only("text"),
            {"list_display": ["text", "post"], "list_select_related": True},
            id="comment-only-text",
        ),
        pytest.param(
            "Comment",
            lambda qs: qs.defer("post"),
            {"list_display": ["text", "post"], "list_select_related": True},
            id="comment-defer-post",
        ),
    ],
)
def test_a_deferred_foreign_key_across_databases_is_still_read_once_per_database(
    client: Client, settings: Any, pair: Pair, model: str, deferred: Any, options: Any
) -> None:
    options = options or {"list_display": ["title", "author"]}
    page_url = deferring_changelist(settings, pair.model(model), deferred, **options)

    one = add_rows_and_get(client, pair, page_url, 1)
    people_n, posts_n, page = add_rows_and_get(client, pair, page_url, 3)  # 4 rows now
    assert (people_n, posts_n) == one[:2]  # the deferred column is not read row by row
    if model == "Post":  # each author, read on the people database
        for person in pair.model("Person").objects.all():
            assert f'<td class="field-author nowrap">{person}</td>' in page
        assert page.count('<td class="field-author nowrap">') == 4
    else:
        assert ">text2</a>" in page
        for post in pair.model("Post").objects.all():
            assert f'<td class="field-post nowrap">{post}</td>' in page


def test_a_projects_own_changelist_class_reads_each_database_once(
    client: Client, settings: Any, pair: Pair
) -> None:
    """A ModelAdmin whose get_changelist() returns its own subclass of Django's ChangeList."""
    project_changelist = type("ProjectChangeList", (CrossDatabaseChangeList.__bases__[0],), {})
    page_url = deferring_changelist(
        settings,
        pair.model("Post"),
        lambda qs: qs,
        list_display=["title", "author"],
        get_changelist=lambda self, request, **kwargs: project_changelist,
    )
    one = add_rows_and_get(client, pair, page_url, 1)
    people_n, posts_n, page = add_rows_and_get(client, pair, page_url, 3)
    assert (people_n, posts_n) == one[:2]
    assert page.count('<td class="field-author nowrap">Person object (') == 4


def test_change_form_autocomplete_raw_id_and_filter(client: Client, pair: Pair) -> None:
    ada, bob = (pair.model("Person").objects.create(name=n) for n in ("ada", "bob"))
    add = html(client.get(url(pair, "post", "add")))
    assert "admin-autocomplete" in add
    found = client.get(
        "/admin/autocomplete/",
        {
            "app_label": f"{pair.engine}_posts",
            "model_name": "post",
            "field_name": "author",
            "term": "bo",
        },
    )
    assert found.json()["results"] == [{"id": str(bob.pk), "text": f"Person object ({bob.pk})"}]
    response = client.post(url(pair, "post", "add"), {"title": "new", "author": bob.pk})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert pair.count(pair.posts, "Post", f"title = 'new' AND author_id = {bob.pk}") == 1
    post = pair.model("Post").objects.get(title="new")
    edit = html(client.get(url(pair, "post", "change", post.pk)))
    assert f'<option value="{bob.pk}" selected>' in edit  # the author, read on its database
    response = client.post(url(pair, "post", "change", post.pk), {"title": "new", "author": ada.pk})
    assert response.status_code == 302
    assert pair.count(pair.posts, "Post", f"title = 'new' AND author_id = {ada.pk}") == 1
    missing = client.post(url(pair, "post", "add"), {"title": "x", "author": 999999})
    assert "Select a valid choice" in html(missing)  # validated against the people database

    draft = html(client.get(url(pair, "draft", "add")))  # raw_id_fields = ["editor"]
    assert "vForeignKeyRawIdAdminField" in draft
    response = client.post(url(pair, "draft", "add"), {"title": "raw", "editor": ada.pk})
    assert response.status_code == 302
    assert pair.count(pair.posts, "Draft", f"title = 'raw' AND editor_id = {ada.pk}") == 1
    draft_pk = pair.model("Draft").objects.get(title="raw").pk
    raw = html(client.get(url(pair, "draft", "change", draft_pk)))
    assert f"Person object ({ada.pk})</a>" in raw  # the raw id's label, read on its database

    filtered = html(client.get(url(pair, "post"), {"author__id__exact": ada.pk, "q": "ne"}))
    assert ">new</a>" in filtered
    assert "1 post" in filtered
    listed = html(client.get(url(pair, "post"), {"author__id__exact": bob.pk}))
    assert "0 posts" in listed


def test_inline_rows_on_the_other_database(client: Client, pair: Pair) -> None:
    ada = person_with_rows(pair)
    page = html(client.get(url(pair, "person", "change", ada.pk)))
    assert 'value="post by ada"' in page
    post = pair.model("Post").objects.get(author=ada)
    prefix = "posts"
    data = {
        "name": "ada",
        f"{prefix}-TOTAL_FORMS": "2",
        f"{prefix}-INITIAL_FORMS": "1",
        f"{prefix}-0-id": post.pk,
        f"{prefix}-0-author": ada.pk,
        f"{prefix}-0-title": "renamed",
        f"{prefix}-1-author": ada.pk,
        f"{prefix}-1-title": "added inline",
    }
    response = client.post(url(pair, "person", "change", ada.pk), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert pair.count(pair.posts, "Post", f"author_id = {ada.pk}") == 2
    assert pair.count(pair.posts, "Post", "title IN ('renamed', 'added inline')") == 2


# System checks ----------------------------------------------------------------------------------


def checks_for(pair: Pair, model: str, **options: Any) -> list[Any]:
    site = admin.AdminSite(name="check_site")
    site.register(
        pair.model(model),
        type("BadAdmin", (admin.ModelAdmin,), {"__module__": __name__, **options}),
    )
    errors = admin_lookup_errors(site)
    site._registry.clear()  # all_sites keeps the site until it is collected: leave it empty
    return errors


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("search_fields", ["title", "author__name"], "author__name"),
        ("search_fields", ["=author__name"], "author__name"),
        ("list_filter", ["author__name"], "author__name"),
        ("ordering", ["-author__name"], "author__name"),
        ("list_display", ["title", "author__name"], "author__name"),
        ("list_select_related", ["author"], "author"),
        ("date_hierarchy", "author__name", "author__name"),
    ],
)
def test_check_refuses_admin_lookups_across_databases(option: str, value: Any, named: str) -> None:
    pair = Pair("lite", "default", "sqlite_blog")
    [error] = checks_for(pair, "Post", **{option: value})
    assert error.id == "django_cfg.E030"
    assert error.msg.startswith(f"BadAdmin.{option} names")
    assert error.obj.__module__ == __name__
    assert f"{named!r}" in error.msg
    assert "lite_posts.Post.author from database 'sqlite_blog'" in error.msg
    assert "lite_people.Person on 'default'" in error.msg
    assert error.hint


def test_check_refuses_reverse_lookups_and_related_only_filter() -> None:
    pair = Pair("lite", "default", "sqlite_blog")
    [error] = checks_for(pair, "Person", search_fields=["name", "posts__title"])
    assert error.id == "django_cfg.E030"
    assert "'posts__title'" in error.msg
    [error] = checks_for(pair, "Post", list_filter=[("author", admin.RelatedOnlyFieldListFilter)])
    assert error.id == "django_cfg.E031"
    assert "list_filter = ['author']" in error.hint


def test_check_accepts_what_runs_on_one_database() -> None:
    pair = Pair("lite", "default", "sqlite_blog")
    assert not checks_for(
        pair,
        "Comment",
        search_fields=["text", "post__title"],  # post: same database
        list_filter=["post", "post__author", "post__author__id"],  # FK columns: no JOIN across
        ordering=["post__author_id"],
        list_select_related=["post"],
        list_display=["text", "post__title"],
    )
    from django.core.management import call_command

    # The suite's own admin sites are clean. By tag: Django 6.1's model checks connect to every
    # database (MySQL's field checks read its version), and this test has no database access.
    call_command("check", "--tag", "admin", "--tag", "django_cfg")


def test_manage_py_check_names_the_model_admin_the_field_and_the_fix(tmp_path: Any) -> None:
    """On the example project: a day-one search across databases fails the check, not a page."""
    from tests.support.example_project import ExampleProject

    project = ExampleProject.copy(tmp_path)
    assert "no issues" in project.manage("check")
    admin_py = project.root / "apps" / "blog" / "admin.py"
    admin_py.write_text(
        admin_py.read_text().replace(
            'search_fields = ["title", "content"]', 'search_fields = ["title", "author__username"]'
        )
    )
    output = project.manage("check", check=False)
    assert "SystemCheckError" in output
    assert (
        "<class 'apps.blog.admin.PostAdmin'>: (django_cfg.E030) PostAdmin.search_fields "
        "names 'author__username', which follows blog.Post.author from database 'blog_db' to "
        "accounts.User on 'default'"
    ) in output
    assert "HINT: Search fields of blog.Post itself" in output
