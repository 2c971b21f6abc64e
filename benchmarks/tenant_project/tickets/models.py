from django.conf import settings
from django.db import models


class Label(models.Model):
    name = models.CharField(max_length=50, unique=True)


class Ticket(models.Model):
    contact = models.ForeignKey("crm.Contact", null=True, on_delete=models.SET_NULL)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    status = models.CharField(max_length=10, default="open")
    priority = models.SmallIntegerField(default=3)
    labels = models.ManyToManyField(Label, blank=True)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["status", "priority"], name="tickets_status_priority")]


class Comment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="comments")
    body = models.TextField()
    kind = models.CharField(max_length=10)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created = models.DateTimeField(auto_now_add=True)
