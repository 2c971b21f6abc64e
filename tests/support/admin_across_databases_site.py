"""An admin site over the cross-database test apps (tests/apps/crossdb), pages for each engine.

Person lives on the engine's people database; Post, Comment, Draft, Invoice and Badge on its
posts database, pointing at Person with CASCADE, SET_NULL, PROTECT and RESTRICT. The ModelAdmins
are what a user would write on day one: no code for databases.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib import admin
from django.urls import path

ENGINES = ("lite", "pg", "maria")

site = admin.AdminSite(name="crossdb_admin")


def _admin(name: str, **options: Any) -> type[admin.ModelAdmin[Any]]:
    return type(name, (admin.ModelAdmin,), options)


for engine in ENGINES:
    posts = f"{engine}_posts"
    post_inline = type(
        f"{engine}PostInline",
        (admin.TabularInline,),
        {"model": apps.get_model(posts, "Post"), "extra": 0, "fields": ["title"]},
    )
    site.register(
        apps.get_model(f"{engine}_people", "Person"),
        _admin(
            f"{engine}PersonAdmin", search_fields=["name"], ordering=["name"], inlines=[post_inline]
        ),
    )
    site.register(
        apps.get_model(posts, "Post"),
        _admin(
            f"{engine}PostAdmin",
            list_display=["title", "author"],  # author: non-null, on the people database
            list_filter=["author"],
            search_fields=["title"],
            autocomplete_fields=["author"],
        ),
    )
    site.register(
        apps.get_model(posts, "Comment"),
        # select_related() of everything: post (same database), then post.author (across)
        _admin(f"{engine}CommentAdmin", list_display=["text", "post"], list_select_related=True),
    )
    site.register(
        apps.get_model(posts, "Draft"),
        _admin(f"{engine}DraftAdmin", list_display=["title", "editor"], raw_id_fields=["editor"]),
    )
    site.register(
        apps.get_model(posts, "Invoice"), _admin(f"{engine}InvoiceAdmin", list_display=["customer"])
    )
    site.register(apps.get_model(posts, "Badge"), _admin(f"{engine}BadgeAdmin"))

urlpatterns = [path("admin/", site.urls)]
