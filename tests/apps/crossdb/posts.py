"""The models of every ``<engine>_posts`` app, written once: each app's models.py defines them
in itself (``posts_of(__name__, "<engine>_people")``), pointing at its engine's Person."""

from django.db import models


def posts_of(module: str, people: str) -> tuple[type[models.Model], ...]:
    """Post, Comment, Draft, Invoice and Badge of the app whose models module is ``module``,
    with a ForeignKey to ``<people>.Person`` for each on_delete mode."""
    person = f"{people}.Person"

    class Post(models.Model):
        __module__ = module
        title = models.CharField(max_length=100)
        author = models.ForeignKey(person, on_delete=models.CASCADE, related_name="posts")

    class Comment(models.Model):
        """On the same database as Post: the cascade from a person continues there."""

        __module__ = module
        text = models.CharField(max_length=100)
        post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")

    class Draft(models.Model):
        __module__ = module
        title = models.CharField(max_length=100)
        editor = models.ForeignKey(
            person, null=True, on_delete=models.SET_NULL, related_name="drafts"
        )

    class Invoice(models.Model):
        __module__ = module
        total = models.IntegerField(default=0)
        customer = models.ForeignKey(person, on_delete=models.PROTECT, related_name="invoices")

    class Badge(models.Model):
        __module__ = module
        label = models.CharField(max_length=50)
        holder = models.ForeignKey(person, on_delete=models.RESTRICT, related_name="badges")

    return Post, Comment, Draft, Invoice, Badge
