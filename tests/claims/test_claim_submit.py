"""POST /api/claims: roles, validation, the one-transaction write, idempotency."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.audits.models import AuditEvent
from apps.claims.models import Claim, ClaimLineItem
from apps.outbox.models import OutboxEvent
from tests.claims.conftest import claim_body, post_claim
from tests.factories import EncounterFactory, PatientFactory, persona_user
from tests.support.api import api_client

pytestmark = pytest.mark.django_db(databases="__all__")


def rows_on(alias: str) -> tuple[int, int, int]:
    return (
        Claim.objects.using(alias).count(),
        AuditEvent.objects.using(alias).filter(action="claim.submitted", outcome="success").count(),
        OutboxEvent.objects.using(alias).filter(event_type="ClaimSubmitted").count(),
    )


def test_billing_admin_submits_claim_and_gets_202_with_trace_link(billing_admin, finished_encounter):
    _user, client = billing_admin
    response = post_claim(client, claim_body(finished_encounter))
    assert response.status_code == 202, response.content
    body = response.json()
    alias = finished_encounter._state.db
    other = next(a for a in ("shard_0", "shard_1") if a != alias)
    claim = Claim.objects.using(alias).get(pk=int(body["claim_id"]))
    assert body["status"] == "submitted" and body["total_amount"] == "151.00"
    assert body["trace_id"] and body["links"]["trace"].endswith(body["trace_id"])
    assert response["Location"] == f"/api/claims/{claim.id}"
    assert claim.retention_class == "standard" and claim.encounter_id == finished_encounter.id
    assert ClaimLineItem.objects.using(alias).filter(claim=claim).count() == 2
    assert rows_on(alias) == (1, 1, 1)
    event = OutboxEvent.objects.using(alias).get(event_type="ClaimSubmitted")
    assert event.payload["claim_id"] == str(claim.id) and event.payload["total_amount"] == "151.00"
    assert event.headers.get("traceparent") and event.aggregate_id == finished_encounter.patient_id
    assert rows_on(other) == (0, 0, 0)


@pytest.mark.parametrize("role", ["patient", "clinician", "sre", "operator"])
def test_other_roles_may_not_submit_claims(role, finished_encounter):
    patient = finished_encounter.patient if role == "patient" else None
    _user, token = persona_user(role, patient=patient)
    response = post_claim(api_client(token), claim_body(finished_encounter))
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/problem+json")
    assert rows_on(finished_encounter._state.db) == (0, 0, 0)


def test_anonymous_gets_401(finished_encounter):
    from rest_framework.test import APIClient

    assert post_claim(APIClient(), claim_body(finished_encounter)).status_code == 401


def test_same_key_same_body_replays_the_original_response(billing_admin, finished_encounter):
    _user, client = billing_admin
    first = post_claim(client, claim_body(finished_encounter), key="claim-key-1")
    again = post_claim(client, claim_body(finished_encounter), key="claim-key-1")
    assert first.status_code == again.status_code == 202
    assert again.json()["claim_id"] == first.json()["claim_id"] and again.json()["replayed"] is True
    assert rows_on(finished_encounter._state.db) == (1, 1, 1)


def test_same_key_different_body_is_refused(billing_admin, finished_encounter):
    _user, client = billing_admin
    post_claim(client, claim_body(finished_encounter), key="claim-key-2")
    changed = claim_body(finished_encounter, payer_code="NORTHSTAR")
    response = post_claim(client, changed, key="claim-key-2")
    assert response.status_code == 422
    assert response.json()["remediation"]
    assert rows_on(finished_encounter._state.db) == (1, 1, 1)


def test_missing_idempotency_key_is_400(billing_admin, finished_encounter):
    _user, client = billing_admin
    response = post_claim(client, claim_body(finished_encounter), key="")
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["title"]


@pytest.mark.parametrize(
    ("line_item", "field", "fragment"),
    [
        (
            {"procedure_code": "9921", "diagnosis_codes": ["I10"], "unit_price": "10"},
            "procedure_code",
            "not a procedure code",
        ),
        (
            {"procedure_code": "99999", "diagnosis_codes": ["I10"], "unit_price": "10"},
            "procedure_code",
            "not in the shipped",
        ),
        (
            {"procedure_code": "99213", "diagnosis_codes": ["110"], "unit_price": "10"},
            "diagnosis_codes",
            "not an ICD-10",
        ),
        (
            {"procedure_code": "99213", "diagnosis_codes": ["Z99.89"], "unit_price": "10"},
            "diagnosis_codes",
            "not in the shipped",
        ),
        ({"procedure_code": "99213", "diagnosis_codes": ["I10"], "unit_price": "-5"}, "unit_price", ""),
    ],
)
def test_invalid_codes_and_amounts_get_field_errors(billing_admin, finished_encounter, line_item, field, fragment):
    _user, client = billing_admin
    response = post_claim(client, claim_body(finished_encounter, line_items=[line_item]))
    assert response.status_code == 400, response.content
    body = response.json()
    errors = body["errors"]["line_items"]["0"][field]
    assert fragment in str(errors) and body["remediation"]
    assert rows_on(finished_encounter._state.db) == (0, 0, 0)


def test_unknown_payer_is_400(billing_admin, finished_encounter):
    _user, client = billing_admin
    response = post_claim(client, claim_body(finished_encounter, payer_code="NOPE"))
    assert response.status_code == 400 and "payer" in response.json()["remediation"]


@pytest.mark.parametrize("status", ["booked", "in_progress", "cancelled"])
def test_only_finished_encounters_can_be_billed(billing_admin, status):
    encounter = EncounterFactory(patient=PatientFactory(bucket=5), status=status)
    _user, client = billing_admin
    response = post_claim(client, claim_body(encounter))
    assert response.status_code == 422 and response.json()["code"] == "encounter_not_finished"
    assert rows_on(encounter._state.db) == (0, 0, 0)


def test_encounter_of_another_patient_is_refused(billing_admin, finished_encounter):
    other = PatientFactory()
    _user, client = billing_admin
    response = post_claim(client, claim_body(finished_encounter, patient_id=str(other.id)))
    assert response.status_code == 422 and response.json()["code"] == "encounter_mismatch"


def test_payer_retention_class_is_applied(billing_admin, finished_encounter):
    _user, client = billing_admin
    response = post_claim(client, claim_body(finished_encounter, payer_code="MEDICARE"))
    assert response.json()["retention_class"] == "government"


def test_payment_moves_claim_to_paid_and_emits_claim_paid(billing_admin, finished_encounter):
    _user, client = billing_admin
    claim_id = post_claim(client, claim_body(finished_encounter)).json()["claim_id"]
    response = client.post(
        f"/api/claims/{claim_id}/payment", {"paid_amount": "140.00"}, format="json", HTTP_IDEMPOTENCY_KEY="pay-1"
    )
    assert response.status_code == 200 and response.json()["status"] == "paid"
    alias = finished_encounter._state.db
    claim = Claim.objects.using(alias).get(pk=int(claim_id))
    assert claim.paid_amount == Decimal("140.00") and claim.paid_at is not None
    paid = OutboxEvent.objects.using(alias).get(event_type="ClaimPaid")
    assert paid.payload == {
        "claim_id": claim_id,
        "patient_id": str(claim.patient_id),
        "paid_amount": "140.00",
        "paid_at": claim.paid_at.isoformat(),
    }
    assert AuditEvent.objects.using(alias).filter(action="claim.paid", resource_id=claim_id).exists()


def test_a_failure_after_the_claim_insert_leaves_nothing(billing_admin, finished_encounter, monkeypatch):
    import apps.outbox.changes as changes

    def broken_outbox(**kwargs):
        raise RuntimeError("outbox write failed")

    monkeypatch.setattr(changes, "outbox_event_record", broken_outbox)
    _user, client = billing_admin
    client.raise_request_exception = False
    response = post_claim(client, claim_body(finished_encounter))
    assert response.status_code == 500
    assert rows_on(finished_encounter._state.db) == (0, 0, 0)
    assert ClaimLineItem.objects.using(finished_encounter._state.db).count() == 0


def test_transient_sql_error_is_retried_then_the_claim_commits_once(billing_admin, finished_encounter):
    from tests.encounters.test_booking_failures import fault_count, install_fault

    _user, client = billing_admin
    alias = finished_encounter._state.db
    install_fault(alias, table="claims_claim", errcode="40001", times=2)  # two serialization failures
    response = post_claim(client, claim_body(finished_encounter))
    assert response.status_code == 202, response.content
    assert fault_count(alias) == 3  # two failed attempts, then the one that committed
    assert rows_on(alias) == (1, 1, 1)


def test_after_the_retry_budget_a_claim_answers_503_and_writes_nothing(billing_admin, finished_encounter):
    from apps.claims.services.submit import PERSIST_ATTEMPTS
    from tests.encounters.test_booking_failures import fault_count, install_fault

    _user, client = billing_admin
    alias = finished_encounter._state.db
    install_fault(alias, table="claims_claim", errcode="40001", times=None)
    response = post_claim(client, claim_body(finished_encounter))
    assert response.status_code == 503 and int(response["Retry-After"]) > 0
    assert fault_count(alias) == PERSIST_ATTEMPTS
    assert rows_on(alias) == (0, 0, 0)
