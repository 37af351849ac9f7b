"""The access matrix: every route × persona → expected HTTP status (docs/access-policy.md).

Columns:  anonymous  patient  clinician_on  clinician_off  billing_admin  sre  operator
(clinician_on is on the patient's care team, clinician_off is not). A row is "STATUSES" for a GET,
or "METHOD STATUSES" for a route without GET (sent with an empty JSON body: an allowed role gets
past the permission check and fails validation with 400). Keys are URL names; admin rows may use
shell wildcards, the first matching row wins. A route in the URL conf without a row fails the test:
add its row here when you add the route.
"""

from __future__ import annotations


def staff(status: int) -> str:
    """Admin pages: every persona without staff rights is sent to the admin login."""
    return f"302 302 302 302 302 {status} {status}"


ANYONE_200 = "200 200 200 200 200 200 200"

API = {
    "encounter-book": "POST 401 400 400 400 403 403 403",
    "encounter-detail": "401 200 200 404 200 403 403",  # billing: billing view (no free text)
    "encounter-finish": "POST 401 403 200 404 403 403 403",
    "encounter-note": "401 404 200 404 404 404 404",  # patient: note not released yet
    "encounter-note-history": "401 404 200 404 404 404 404",
    "claim-submit": "POST 401 403 403 403 400 403 403",
    "claim-payers": "401 403 403 403 200 403 200",
    "claim-detail": "401 403 403 403 200 403 200",  # operator: operations view (no diagnosis codes)
    "claim-payment": "POST 401 403 403 403 400 403 403",
    "dashboard-financial": "401 403 403 403 200 200 200",
    "slo-list": "401 403 403 403 403 200 200",
    "slo-annotations": "401 403 403 403 403 400 400",  # GET needs a time range
    "slo-detail": "401 403 403 403 403 404 404",  # no such SLO
    "chaos-schema": ANYONE_200,  # the experiment JSON schema: no data
    "chaos-activities": "401 403 403 403 403 200 403",
    "chaos-experiments": "401 403 403 403 403 200 403",
    "chaos-experiment-submit": "POST 401 403 403 403 403 400 403",
    "chaos-revision": "401 403 403 403 403 404 403",  # no such revision
    "chaos-dry-run": "POST 401 403 403 403 403 404 403",
    "chaos-approve": "POST 401 403 403 403 403 404 403",
    "chaos-launch": "POST 401 403 403 403 403 404 403",
    "chaos-run": "401 403 403 403 403 404 403",
    "chaos-run-report": "401 403 403 403 403 404 403",
    "chaos-run-abort": "POST 401 403 403 403 403 404 403",
    "chaos-run-close": "POST 401 403 403 403 403 400 403",
    "chaos-kill-switch": "401 403 403 403 403 200 403",
    "chaos-annotations": "401 403 403 403 403 200 403",
    "api-schema": ANYONE_200,
    "api-docs": ANYONE_200,
    "api-redoc": ANYONE_200,
    "alerts-alertmanager-webhook": "POST 503 503 503 503 503 503 503",  # needs its shared secret, unset here
}

PORTAL = {
    "portal-home": ANYONE_200,
    "portal-financial-dashboard": "302 403 403 403 200 200 200",
    "portal-trace": "302 403 404 404 404 404 404",  # no such trace in the span store
    "portal-my-visits": "302 200 403 403 403 403 403",
    "portal-book-visit": "302 200 403 403 403 403 403",
    "portal-visit": "302 200 403 403 403 403 403",  # the patient's own visit
    "portal-visit-status": "302 200 403 403 403 403 403",
    "portal-worklist": "302 403 200 200 403 403 403",  # each clinician sees their own care team
    "portal-encounter": "302 403 200 404 403 403 403",  # care-team rule
    "portal-encounter-break-glass": "POST 302 403 422 422 403 403 403",  # empty form: 422, the reason is required
    "portal-note-save": "POST 302 403 422 404 403 403 403",  # empty form: 422 with the error summary
    "portal-note-preview": "POST 302 403 200 404 403 403 403",
    "portal-note-history": "302 403 200 404 403 403 403",
    "portal-encounter-finish": "302 403 200 404 403 403 403",  # GET shows the confirmation
    "portal-ready-to-bill": "302 403 403 403 200 403 403",
    "portal-claims": "302 403 403 403 200 403 200",
    "portal-claim-new": "302 403 403 403 404 403 403",  # without ?encounter= there is nothing to bill
    "portal-code-suggestions": "302 403 403 403 200 403 403",
    "portal-claim": "302 403 403 403 200 403 200",  # operator: no diagnosis codes, no FHIR download
    "console-slos": "302 403 403 403 403 200 200",
    "console-slo": "302 403 403 403 403 404 404",  # no such SLO
    "console-drills": "302 403 403 403 403 200 200",
    "console-drill-submit": "302 403 403 403 403 200 403",  # drills are the SRE's
    "console-kill-switch": "POST 302 403 403 403 403 302 403",  # SRE: back to the drills page
    "console-revision": "302 403 403 403 403 404 404",  # no such revision
    "console-revision-dry-run": "POST 302 403 403 403 403 404 403",
    "console-revision-approve": "POST 302 403 403 403 403 404 403",
    "console-revision-launch": "302 403 403 403 403 404 403",
    "console-run": "302 403 403 403 403 404 404",  # no such run
    "console-run-live": "302 403 403 403 403 404 404",
    "console-run-abort": "POST 302 403 403 403 403 404 403",
    "console-run-close": "POST 302 403 403 403 403 404 403",
    "console-run-journal": "302 403 403 403 403 404 404",
    "console-probes": "302 403 403 403 403 200 200",
    "console-probes-run": "POST 302 403 403 403 403 302 403",
    "console-alerts": "302 403 403 403 403 200 200",
    "console-doc": "302 403 403 403 403 404 404",  # no such document
    "portal-sequences": "302 403 403 403 403 200 200",
    "login": ANYONE_200,
    "logout": "405 405 405 405 405 405 405",  # POST only
    "password_change": "302 200 200 200 200 200 200",
    "password_change_done": "302 200 200 200 200 200 200",
    "password_reset": ANYONE_200,
    "password_reset_done": ANYONE_200,
    "password_reset_confirm": ANYONE_200,  # shows "invalid link" for a bad token
    "password_reset_complete": ANYONE_200,
    "healthz": ANYONE_200,
    "readyz": ANYONE_200,  # anonymous callers get up/down only
    "prometheus-django-metrics": ANYONE_200,
}

# Written only by services, or append-only: the admin cannot add or delete them.
SERVICE_ONLY_ADD = (
    "audits_*",
    "outbox_outboxevent",
    "slo_servicelevelobjective",
    "slo_slisample",
    "encounters_encounter",
    "projections_*",
    "claims_claim",
    "claims_claimlineitem",
    "claims_archivedclaim",
    "claims_legalhold",  # placed and released through the audited legal-hold services
    "probes_*",
    "knox_authtoken",  # issued by `manage.py persona_tokens`, shown once
    "axes_*",  # login attempts are recorded by django-axes
    "chaos_experiment*",  # drills are submitted, approved and run through the console's services
)
SERVICE_ONLY_DELETE = (
    "audits_auditevent",
    "audits_auditrecord",
    "audits_auditchainhead",
    "outbox_outboxevent",
    "encounters_encounter",
    "claims_claim",
    "claims_claimlineitem",
    "claims_archivedclaim",
    "claims_legalhold",
    "chaos_experiment*",
)
# Object pages get a real row for these models (tests/access/world.py); elsewhere id 0, which the
# admin answers with a redirect to the list ("no such object").
WITH_OBJECT = ("patients_patient", "encounters_encounter", "claims_claim", "claims_claimlineitem")

ADMIN = {
    "admin:login": "200 200 200 200 200 302 302",
    "admin:logout": staff(405),  # POST only
    "admin:autocomplete": staff(403),  # needs app_label and model_name
    "admin:view_on_site": staff(404),
    "admin:password_change": staff(200),
    "admin:password_change_done": staff(200),
    "admin:auth_user_password_change": staff(200),
    "admin/(?P<url>.*)$": staff(404),
    **{f"admin:{m}_add": staff(403) for m in SERVICE_ONLY_ADD},
    **{f"admin:{m}_delete": staff(403) for m in SERVICE_ONLY_DELETE},
    **{f"admin:{m}_{page}": staff(200) for m in WITH_OBJECT for page in ("change", "history")},
    "admin:patients_patient_delete": staff(200),
    "admin:encounters_encounter_simple_history": staff(302),  # note versions: back to the history list
    "admin:*_simple_history": staff(404),  # no such version
    "admin:core_shardmapentry_history": staff(404),  # simple-history's page: no such entry
    "admin:patients_careteammember_history": staff(404),  # simple-history's page: no such membership
    "admin:*_change": staff(302),  # no such object: back to the list
    "admin:*_history": staff(302),
    "admin:*_delete": staff(302),
    "admin/*/<path:object_id>/": staff(302),  # old-style object URL: redirect to the change page
    "admin:*": staff(200),  # index, app lists, change lists, add forms, password change, jsi18n
}

MATRIX = {**API, **PORTAL, **ADMIN}
