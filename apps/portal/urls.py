from django.urls import path

from .views import financial_dashboard_page, trace_page

urlpatterns = [
    path("dashboards/financial", financial_dashboard_page, name="portal-financial-dashboard"),
    path("traces/<str:trace_id>", trace_page, name="portal-trace"),
]
