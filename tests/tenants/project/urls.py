from django.http import HttpRequest, JsonResponse
from django.urls import path

from django_cfg import current_tenant
from tests.tenants.project.notes.models import Note


def notes(request: HttpRequest) -> JsonResponse:
    titles = sorted(Note.objects.values_list("title", flat=True))
    return JsonResponse({"tenant": current_tenant(), "titles": titles})


async def notes_async(request: HttpRequest) -> JsonResponse:
    titles = sorted([title async for title in Note.objects.values_list("title", flat=True)])
    return JsonResponse({"tenant": current_tenant(), "titles": titles})


urlpatterns = [path("notes/", notes), path("async-notes/", notes_async)]
