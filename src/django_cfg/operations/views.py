"""The views of ``django_cfg.urls``: ``metrics``, ``healthz`` and ``readyz``.

    urlpatterns = [..., path("-/", include("django_cfg.urls"))]

``healthz`` asks no database (200 while the process serves requests); ``readyz`` answers
within ``DJANGO_CFG_HEALTH_TIMEOUT`` (``operations.readiness``); ``metrics`` needs the extra
``django-cfg[metrics]`` (prometheus-client) and answers 501 naming it without. None of them
requires a login: expose ``-/`` to the scraper and the orchestrator only (docs/deployment.md).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from django_cfg.operations.readiness import readiness

__all__ = ["healthz", "metrics", "readyz"]

MISSING_EXTRA = (
    "django_cfg metrics need prometheus-client, which is not installed in this environment. "
    "Install the extra: pip install 'django-cfg[metrics]' (or prometheus-client>=0.20).\n"
)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    report = readiness()
    return JsonResponse(report.body, status=report.http_status)


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    try:
        from django_cfg.operations.prometheus_export import render_metrics

        body, content_type = render_metrics()
    except ModuleNotFoundError as error:
        if error.name != "prometheus_client":
            raise
        return HttpResponse(MISSING_EXTRA, status=501, content_type="text/plain; charset=utf-8")
    return HttpResponse(body, content_type=content_type)
