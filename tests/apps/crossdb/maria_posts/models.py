"""Posts on the second MariaDB database, pointing at ``maria_people.Person`` with each on_delete."""

from django.db import models


class Post(models.Model):
    title = models.CharField(max_length=100)
    author = models.ForeignKey(
        "maria_people.Person", on_delete=models.CASCADE, related_name="posts"
    )


class Comment(models.Model):
    """On the same database as Post: the cascade from a person continues there."""

    text = models.CharField(max_length=100)
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")


class Draft(models.Model):
    title = models.CharField(max_length=100)
    editor = models.ForeignKey(
        "maria_people.Person", null=True, on_delete=models.SET_NULL, related_name="drafts"
    )


class Invoice(models.Model):
    total = models.IntegerField(default=0)
    customer = models.ForeignKey(
        "maria_people.Person", on_delete=models.PROTECT, related_name="invoices"
    )


class Badge(models.Model):
    label = models.CharField(max_length=50)
    holder = models.ForeignKey(
        "maria_people.Person", on_delete=models.RESTRICT, related_name="badges"
    )
