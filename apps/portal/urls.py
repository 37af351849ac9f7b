from django.urls import include, path

from .views import financial_dashboard_page, home_page, trace_page

urlpatterns = [
    path("", home_page, name="portal-home"),
    path("dashboards/financial", financial_dashboard_page, name="portal-financial-dashboard"),
    path("traces/<str:trace_id>", trace_page, name="portal-trace"),
    path("", include("apps.portal.console.urls")),
]
