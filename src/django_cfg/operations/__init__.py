"""What an operator scrapes and probes: Prometheus metrics, ``healthz`` and ``readyz``.

# urls.py
urlpatterns = [..., path("-/", include("django_cfg.urls"))]
# GET /-/metrics  /-/healthz  /-/readyz     (docs/deployment.md, "Metrics and health")
"""
