"""Posts and comments (blog_db), whose authors are users (default)."""

from django.contrib import admin

from .models import Comment, Post


class CommentInline(admin.TabularInline):
    model = Comment
    raw_id_fields = ["author"]  # a user id typed in, checked on default
    extra = 0


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ["title", "author", "created_at"]
    list_filter = ["author"]
    search_fields = ["title", "content"]
    autocomplete_fields = ["author"]  # searches users on default (ProjectUserAdmin)
    inlines = [CommentInline]


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["text", "post", "author"]  # author: non-null, on another database
    list_filter = ["author"]
    search_fields = ["text"]
    raw_id_fields = ["author"]
