"""The same pair of apps for each engine: people on one database, their posts on another.

Each ``*_posts`` app's models point at the ``*_people`` app's Person with every ``on_delete``
mode, so one set of tests runs on SQLite, PostgreSQL and MariaDB alike.
"""

from __future__ import annotations

from typing import Any

from django.db import models


def _meta(app_label: str) -> type:
    return type("Meta", (), {"app_label": app_label})


def define_people(app_label: str, module: str) -> dict[str, Any]:
    person = type(
        "Person",
        (models.Model,),
        {"name": models.CharField(max_length=50), "Meta": _meta(app_label), "__module__": module},
    )
    return {"Person": person}


def define_posts(app_label: str, module: str, person: str) -> dict[str, Any]:
    """Models on the posts database that reference ``person`` ("app.Person") across databases."""

    def model(name: str, **fields: Any) -> type[models.Model]:
        attrs = {**fields, "Meta": _meta(app_label), "__module__": module}
        return type(name, (models.Model,), attrs)

    post = model(
        "Post",
        title=models.CharField(max_length=100),
        author=models.ForeignKey(person, on_delete=models.CASCADE, related_name="posts"),
    )
    comment = model(  # same database as Post: the cascade continues there
        "Comment",
        text=models.CharField(max_length=100),
        post=models.ForeignKey(post, on_delete=models.CASCADE, related_name="comments"),
    )
    draft = model(
        "Draft",
        title=models.CharField(max_length=100),
        editor=models.ForeignKey(
            person, null=True, on_delete=models.SET_NULL, related_name="drafts"
        ),
    )
    invoice = model(
        "Invoice",
        total=models.IntegerField(default=0),
        customer=models.ForeignKey(person, on_delete=models.PROTECT, related_name="invoices"),
    )
    badge = model(
        "Badge",
        label=models.CharField(max_length=50),
        holder=models.ForeignKey(person, on_delete=models.RESTRICT, related_name="badges"),
    )
    return {"Post": post, "Comment": comment, "Draft": draft, "Invoice": invoice, "Badge": badge}
