from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from django_cfg import current_tenant
from tests.tenants.project.notes.models import Note


def notes(request: HttpRequest) -> JsonResponse:
    titles = sorted(Note.objects.values_list("title", flat=True))
    return JsonResponse({"tenant": current_tenant(), "titles": titles})


async def notes_async(request: HttpRequest) -> JsonResponse:
    titles = sorted([title async for title in Note.objects.values_list("title", flat=True)])
    return JsonResponse({"tenant": current_tenant(), "titles": titles})


@csrf_exempt
def add_note(request: HttpRequest) -> JsonResponse:
    note = Note.objects.create(title=request.POST["title"])
    return JsonResponse({"tenant": current_tenant(), "pk": note.pk, "database": note._state.db})


urlpatterns = [
    path("notes/", notes),
    path("async-notes/", notes_async),
    path("notes/add/", add_note),
    path("admin/", admin.site.urls),
]
