from django.urls import path

from . import visits
from .views import financial_dashboard_page, home_page, trace_page

urlpatterns = [
    path("", home_page, name="portal-home"),
    # Patient
    path("visits/", visits.my_visits_page, name="portal-my-visits"),
    path("visits/book", visits.book_visit_page, name="portal-book-visit"),
    path("visits/<str:encounter_id>", visits.visit_page, name="portal-visit"),
    path("visits/<str:encounter_id>/status", visits.visit_status_partial, name="portal-visit-status"),
    # Billing admin, SRE, operator
    path("dashboards/financial", financial_dashboard_page, name="portal-financial-dashboard"),
    path("traces/<str:trace_id>", trace_page, name="portal-trace"),
]
