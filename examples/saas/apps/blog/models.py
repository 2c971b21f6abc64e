"""Blog content, on blog_db (DATABASE_ROUTING_RULES); authors are users on default."""

from django.conf import settings
from django.db import models


class Post(models.Model):
    title = models.CharField(max_length=200)
    content = models.TextField(blank=True)
    # Cross-database: no database constraint; deleting the user sets author to NULL here.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="blog_posts",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:  # the admin's "View on site" link
        return f"/posts/{self.pk}/"


class Comment(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    # Cross-database: deleting the user deletes their comments in blog_db.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blog_comments"
    )
    text = models.TextField()

    def __str__(self) -> str:
        return self.text[:40]
