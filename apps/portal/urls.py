from django.urls import include, path

from . import billing, notes, visits, worklist
from .views import financial_dashboard_page, home_page, trace_page

urlpatterns = [
    path("", home_page, name="portal-home"),
    # Patient
    path("visits/", visits.my_visits_page, name="portal-my-visits"),
    path("visits/book", visits.book_visit_page, name="portal-book-visit"),
    path("visits/<str:encounter_id>", visits.visit_page, name="portal-visit"),
    path("visits/<str:encounter_id>/status", visits.visit_status_partial, name="portal-visit-status"),
    # Clinician
    path("worklist", worklist.worklist_page, name="portal-worklist"),
    path("encounters/<str:encounter_id>", notes.encounter_page, name="portal-encounter"),
    path("encounters/<str:encounter_id>/break-glass", notes.encounter_break_glass, name="portal-encounter-break-glass"),
    path("encounters/<str:encounter_id>/note", notes.note_save, name="portal-note-save"),
    path("encounters/<str:encounter_id>/note/preview", notes.note_preview, name="portal-note-preview"),
    path("encounters/<str:encounter_id>/history", notes.note_history_page, name="portal-note-history"),
    path("encounters/<str:encounter_id>/finish", notes.encounter_finish_page, name="portal-encounter-finish"),
    # Billing admin
    path("billing/ready", billing.ready_to_bill_page, name="portal-ready-to-bill"),
    path("claims/", billing.claims_page, name="portal-claims"),
    path("claims/new", billing.claim_submit_page, name="portal-claim-new"),
    path("claims/codes", billing.code_suggestions, name="portal-code-suggestions"),
    path("claims/<str:claim_id>", billing.claim_page, name="portal-claim"),
    # Billing admin, SRE, operator
    path("dashboards/financial", financial_dashboard_page, name="portal-financial-dashboard"),
    path("traces/<str:trace_id>", trace_page, name="portal-trace"),
    path("", include("apps.portal.console.urls")),
]
