from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from apps.telemetry.views import healthz, readyz

handler404 = "apps.core.api_errors.api_not_found"
# Swagger UI and ReDoc write style elements; only these two pages allow inline style (settings: CSP).
api_reference_styles = csp_update({"style-src": ["'unsafe-inline'"]})

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("", include("django_prometheus.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file, so the CSP needs no inline script.
    path(
        "api/docs/",
        api_reference_styles(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path("api/redoc/", api_reference_styles(SpectacularRedocView.as_view(url_name="api-schema")), name="api-redoc"),
    path("api/", include("apps.patients.urls")),
    path("api/", include("apps.encounters.urls")),
    path("api/", include("apps.claims.urls")),
    path("api/", include("apps.audits.urls")),
    path("api/", include("apps.outbox.urls")),
    path("api/", include("apps.projections.urls")),
    path("api/", include("apps.slo.urls")),
    path("api/", include("apps.chaos.urls")),
    path("api/", include("apps.probes.urls")),
    path("", include("apps.portal.urls")),
    path("", include("apps.probes.portal_urls")),
]
