"""Billing admin pages through Django's test client: claims go through claim_submit like the API."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audits.models import AuditEvent
from apps.claims.models import Claim
from tests.factories import EncounterFactory, encounter_for

from .conftest import browser_for

pytestmark = pytest.mark.django_db(databases="__all__")


def claim_form(encounter, *, payer="ACME-HEALTH", key=None, lines=None) -> dict:
    lines = lines or [("99213", "I10", "1", "120.00"), ("36415", "I10, E11.9", "2", "15.50")]
    body = {
        "encounter_id": str(encounter.id),
        "payer_code": payer,
        "idempotency_key": key or uuid.uuid4().hex,
        "lines-TOTAL_FORMS": "3",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "50",
    }
    for index, (procedure, diagnoses, units, price) in enumerate(lines):
        body.update(
            {
                f"lines-{index}-procedure_code": procedure,
                f"lines-{index}-diagnosis_codes": diagnoses,
                f"lines-{index}-units": units,
                f"lines-{index}-unit_price": price,
            }
        )
    return body


def test_ready_to_bill_lists_finished_unbilled_visits_oldest_first(lab):
    now = timezone.now()
    EncounterFactory(patient=lab["other_record"], reason="Newer visit", requested_start=now - timedelta(days=1))
    EncounterFactory(patient=lab["patient_record"], reason="Older visit", requested_start=now - timedelta(days=9))
    encounter_for(lab["patient_record"], reason="Still booked")
    html = browser_for(lab["billing"]).get("/billing/ready").content.decode()
    assert "Still booked" not in html
    assert html.index("Older visit") < html.index("Newer visit")


def test_billing_admin_submits_a_claim_and_a_second_one_is_refused_naming_the_rule(lab):
    encounter = EncounterFactory(patient=lab["patient_record"])
    client = browser_for(lab["billing"])
    form = client.get(f"/claims/new?encounter={encounter.id}").content.decode()
    assert 'name="idempotency_key"' in form and "ACME-HEALTH" in form
    response = client.post("/claims/new", claim_form(encounter))
    assert response.status_code == 302
    claim = Claim.objects.using("shard_0").get(encounter=encounter)
    assert str(claim.total_amount) == "151.00"
    detail = client.get(response["Location"]).content.decode()
    assert "151.00" in detail and f"/api/claims/{claim.id}?format=fhir" in detail and "/traces/" in detail
    second = client.post("/claims/new", claim_form(encounter))
    html = second.content.decode()
    assert second.status_code == 403
    assert "duplicate claim rule" in html and "There is a problem" in html
    assert AuditEvent.objects.using("shard_0").filter(action="claim.submit", outcome="guardrail_violation").exists()


def test_a_booked_visit_cannot_be_billed_and_the_page_says_why(lab):
    booked = encounter_for(lab["patient_record"])
    response = browser_for(lab["billing"]).post("/claims/new", claim_form(booked))
    html = response.content.decode()
    assert response.status_code == 422 and "only finished encounters can be billed" in html


def test_unknown_codes_are_named_next_to_their_line(lab):
    encounter = EncounterFactory(patient=lab["patient_record"])
    response = browser_for(lab["billing"]).post(
        "/claims/new", claim_form(encounter, lines=[("9921", "I10", "1", "10.00"), ("99213", "Q99.9", "1", "5.00")])
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert "Line 1:" in html and "not a procedure code" in html and "Line 2:" in html
    assert not Claim.objects.using("shard_0").exists()


def test_code_type_ahead_suggests_from_the_shipped_code_sets(lab):
    client = browser_for(lab["billing"])
    procedures = client.get("/claims/codes", {"kind": "procedure", "lines-0-procedure_code": "9921"}).content.decode()
    assert '<option value="99213">' in procedures
    diagnoses = client.get("/claims/codes", {"kind": "diagnosis", "lines-0-diagnosis_codes": "I10, E11"}).content
    assert '<option value="I10, E11.9">' in diagnoses.decode()


@pytest.mark.parametrize("persona", ["patient", "clinician"])
def test_billing_pages_refuse_other_personas(lab, persona):
    for path in ("/billing/ready", "/claims/", "/claims/new", "/dashboards/financial"):
        assert browser_for(lab[persona]).get(path).status_code == 403, path
