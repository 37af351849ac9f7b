"""A browser booking, note update and claim leave exactly the traces their API twins leave: the
same audit events, outbox events, history rows, metrics (with the persona label) and spans."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from apps.audits.models import AuditEvent
from apps.core.tokens import api_token_issue
from apps.encounters.models import Encounter
from apps.outbox.models import OutboxEvent
from apps.telemetry.tracing import span_store
from tests.claims.conftest import claim_body, post_claim
from tests.encounters.conftest import book, booking_body
from tests.factories import EncounterFactory, PatientFactory, encounter_for, persona_user
from tests.support.api import api_client

from .conftest import browser_for
from .test_billing_pages import claim_form

pytestmark = pytest.mark.django_db(databases="__all__")


def token_of(user) -> str:
    return api_token_issue(user=user)


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def persona_requests(persona: str) -> float:
    """Requests served to ``persona``, over every route (the http_server_duration_seconds count)."""
    total = 0.0
    for metric in REGISTRY.collect():
        if metric.name == "http_server_duration_seconds":
            total += sum(
                s.value for s in metric.samples if s.name.endswith("_count") and s.labels["persona"] == persona
            )
    return total


def is_statement_span(name: str) -> bool:
    """psycopg's per-statement spans (SELECT, INSERT, SAVEPOINT…): a browser session reads its
    session row where an API call reads its token, so these differ by design."""
    return name.isupper() and " " not in name and name != "SQL"


def span_names(trace_id: str) -> list[str]:
    """The seed participants of one request's trace (the HTTP server root span is route-specific)."""
    spans = sorted(span_store.trace(trace_id), key=lambda span: span.start_time)
    return [span.name for span in spans if span.parent is not None and not is_statement_span(span.name)]


def footprint(encounter: Encounter, *, resource_id: int) -> dict:
    alias = encounter._state.db
    return {
        "audit": sorted(
            (a.action, a.outcome, a.actor_role) for a in AuditEvent.objects.using(alias).filter(resource_id=resource_id)
        ),
        "outbox": sorted(
            e.event_type for e in OutboxEvent.objects.using(alias).filter(payload__encounter_id=str(encounter.id))
        ),
        "history": [
            (h.history_type, h.history_change_reason or "")
            for h in Encounter.history.using(alias).filter(id=encounter.id).order_by("history_date")
        ],
    }


def trace_of_event(encounter: Encounter, event_type: str) -> str:
    event = OutboxEvent.objects.using(encounter._state.db).get(
        event_type=event_type, payload__encounter_id=str(encounter.id)
    )
    return event.headers["trace_id"]


def test_browser_booking_matches_the_api_booking(lab):
    twin = PatientFactory(bucket=3, mrn="LAB0000044")
    _api_user, api_token = persona_user("patient", patient=twin, username="twin.patient")
    start = (timezone.now() + timedelta(days=3)).replace(second=0, microsecond=0)
    metric = {"shard_id": "shard_0", "outcome": "created", "actor_role": "patient"}
    writes_before = sample("encounter_write_latency_count", **metric)
    requests_before = persona_requests("patient")
    span_store.clear()

    api = book(api_token, booking_body(twin.id, requested_start=start.isoformat(), reason="Cough"))
    assert api.status_code == 202
    page = browser_for(lab["patient"]).post(
        "/visits/book",
        {"encounter_type": "telehealth", "reason": "Cough", "requested_start": start.strftime("%Y-%m-%dT%H:%M"),
         "idempotency_key": uuid.uuid4().hex},
    )  # fmt: skip
    assert page.status_code == 302

    by_api = Encounter.objects.using("shard_0").get(patient=twin)
    by_page = Encounter.objects.using("shard_0").get(patient=lab["patient_record"])
    assert footprint(by_page, resource_id=by_page.id) == footprint(by_api, resource_id=by_api.id)
    assert footprint(by_page, resource_id=by_page.id)["audit"] == [("encounter.booked", "success", "patient")]
    assert span_names(trace_of_event(by_page, "EncounterCreated")) == span_names(
        trace_of_event(by_api, "EncounterCreated")
    )
    assert "Patient Orchestrator" in span_names(trace_of_event(by_page, "EncounterCreated"))
    assert sample("encounter_write_latency_count", **metric) == writes_before + 2
    assert persona_requests("patient") == requests_before + 2


def test_browser_note_update_matches_the_api_note_update(lab):
    clinician = lab["clinician"]
    by_api, by_page = encounter_for(lab["patient_record"]), encounter_for(lab["patient_record"])
    metric = {"outcome": "success", "shard_id": "shard_0", "actor_role": "clinician"}
    before = sample("encounter_note_update_duration_count", **metric)
    requests_before = persona_requests("clinician")
    span_store.clear()

    api = api_client(token_of(clinician)).patch(
        f"/api/encounters/{by_api.id}/notes", {"text": "Call 555-123-4567.", "status": "draft"},
        format="json", HTTP_IF_MATCH='"note-v0"',
    )  # fmt: skip
    assert api.status_code == 200
    page = browser_for(clinician).post(
        f"/encounters/{by_page.id}/note", {"text": "Call 555-123-4567.", "version": 0, "intent": "draft"}
    )
    assert page.status_code == 302

    api_footprint = footprint(by_api, resource_id=by_api.id)
    page_footprint = footprint(by_page, resource_id=by_page.id)
    assert page_footprint == api_footprint
    assert ("encounter.note.updated", "success", "clinician") in page_footprint["audit"]
    assert Encounter.objects.using("shard_0").get(pk=by_page.id).note_text == "Call [REDACTED-PHONE]."
    assert sample("encounter_note_update_duration_count", **metric) == before + 2
    assert persona_requests("clinician") == requests_before + 2

    def note_trace(encounter) -> list[str]:
        controller = next(
            s for s in span_store.spans()
            if s.name == "Encounter Orchestrator" and str(s.attributes.get("encounter_id")) == str(encounter.id)
        )  # fmt: skip
        return span_names(format(controller.context.trace_id, "032x"))

    assert note_trace(by_page) == note_trace(by_api)
    assert {"API Gateway", "Encounter API Controller", "Command Validator", "Telemetry Interceptor"} <= set(
        note_trace(by_page)
    )


def test_browser_claim_matches_the_api_claim(lab):
    billing = lab["billing"]
    by_api = EncounterFactory(patient=lab["patient_record"])
    by_page = EncounterFactory(patient=lab["patient_record"])
    metric = {"outcome": "created", "shard_id": "shard_0", "actor_role": "billing_admin"}
    before = sample("claim_submit_latency_count", **metric)
    requests_before = persona_requests("billing_admin")
    span_store.clear()

    api = post_claim(api_client(token_of(billing)), claim_body(by_api))
    assert api.status_code == 202
    page = browser_for(billing).post("/claims/new", claim_form(by_page))
    assert page.status_code == 302

    api_claim, page_claim = by_api.claim, by_page.claim
    assert page_claim.total_amount == api_claim.total_amount
    api_footprint = footprint(by_api, resource_id=api_claim.id)
    page_footprint = footprint(by_page, resource_id=page_claim.id)
    assert page_footprint == api_footprint
    assert page_footprint["audit"] == [("claim.submitted", "success", "billing_admin")]
    assert page_footprint["outbox"] == ["ClaimSubmitted"]
    assert span_names(page_claim.trace_id) == span_names(api_claim.trace_id)
    assert "Billing Orchestrator" in span_names(page_claim.trace_id)
    assert sample("claim_submit_latency_count", **metric) == before + 2
    assert persona_requests("billing_admin") == requests_before + 2
