from django.urls import path

from .apis import FinancialDashboardApi

urlpatterns = [
    path("dashboards/financial", FinancialDashboardApi.as_view(), name="dashboard-financial"),
]
