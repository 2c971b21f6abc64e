"""``GET /projects/`` on ``<tenant>.localhost``: the tenant middleware selected the tenant."""

from django.http import HttpRequest, JsonResponse

from .models import Project


def project_list(request: HttpRequest) -> JsonResponse:
    names = list(Project.objects.order_by("pk").values_list("name", flat=True))
    return JsonResponse({"tenant": request.tenant, "projects": names})  # type: ignore[attr-defined]
