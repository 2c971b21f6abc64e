"""The operations endpoints, to include under a prefix of your choice:

# urls.py
from django.urls import include, path

urlpatterns = [..., path("-/", include("django_cfg.urls"))]
# GET /-/metrics   Prometheus text format (pip install "django-cfg[metrics]")
# GET /-/healthz   200 while the process serves
# GET /-/readyz    200 {"status": "ok" | "degraded", ...}; 503 when a primary cannot answer
"""

from django.urls import path

from django_cfg.operations import views

app_name = "django_cfg"

urlpatterns = [
    path("metrics", views.metrics, name="metrics"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
]
