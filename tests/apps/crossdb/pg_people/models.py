"""People on the PostgreSQL people database: the target of the posts' cross-database ForeignKeys."""

from django.db import models


class Person(models.Model):
    name = models.CharField(max_length=50)
