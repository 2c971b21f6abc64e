"""Views for the read-your-writes middleware tests: create a person (also one that answers 503
when the database refuses the write), read one back; and django_cfg's operations endpoints
under ``-/``."""

from django.apps import apps
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path


def create_person(request: HttpRequest) -> HttpResponse:
    person = apps.get_model("pg_people", "Person").objects.create(name=request.POST["name"])
    return JsonResponse({"pk": person.pk})


def try_create_person(request: HttpRequest) -> HttpResponse:
    """A view that handles the failure itself: 503 with the error, never a 500."""
    try:
        return create_person(request)
    except DatabaseError as error:
        return JsonResponse({"error": str(error)}, status=503)


def read_person(request: HttpRequest, pk: int) -> HttpResponse:
    found = apps.get_model("pg_people", "Person").objects.filter(pk=pk).first()
    if found is None:
        return HttpResponse(status=404)
    return JsonResponse({"name": found.name, "database": found._state.db})


urlpatterns = [
    path("people/", create_person),
    path("people/try/", try_create_person),
    path("people/<int:pk>/", read_person),
    path("-/", include("django_cfg.urls")),
]
