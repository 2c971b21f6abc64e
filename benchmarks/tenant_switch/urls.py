"""One tenant page: the titles of the first five pages of the request's tenant."""

from benchmarks.tenant_switch.pages.models import Page
from django.http import HttpRequest, HttpResponse
from django.urls import path


def titles(request: HttpRequest) -> HttpResponse:
    return HttpResponse(",".join(Page.objects.order_by("id").values_list("title", flat=True)[:5]))


urlpatterns = [path("", titles)]
