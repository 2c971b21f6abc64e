from django.apps import apps
from django.contrib import admin
from django.shortcuts import get_object_or_404
from django.http import HttpResponse
from django.urls import path

from apps.blog.models import Post


def post_detail(request, pk):
    """The page of a post: where the admin's "View on site" leads."""
    return HttpResponse(get_object_or_404(Post, pk=pk).title)


urlpatterns = [
    path("admin/", admin.site.urls),
    path("posts/<int:pk>/", post_detail),
]

if apps.is_installed("apps.projects"):  # tenant mode: <tenant>.localhost/projects/
    from apps.projects.views import project_list

    urlpatterns.append(path("projects/", project_list))
