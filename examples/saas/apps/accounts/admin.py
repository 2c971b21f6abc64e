"""Users (default) with their blog posts (blog_db) inline: a ForeignKey across databases."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from apps.blog.models import Post

from .models import User


class PostInline(admin.TabularInline):
    model = Post  # on blog_db; its author column points at this user on default
    fields = ["title"]
    extra = 0


@admin.register(User)
class ProjectUserAdmin(UserAdmin):
    inlines = [PostInline]
