"""Claims under the access policy: payments against the remaining balance with their own
idempotency key, role views (operators see no diagnosis codes), audited reads, history."""

from __future__ import annotations

import uuid

import pytest

from apps.audits.models import AuditEvent
from apps.claims.models import Claim, ClaimLineItem, ClaimPayment
from apps.outbox.models import OutboxEvent
from tests.claims.conftest import claim_body, post_claim
from tests.factories import persona_user
from tests.support.api import api_client

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def claim_id(billing_admin, finished_encounter):
    _user, client = billing_admin
    return post_claim(client, claim_body(finished_encounter)).json()["claim_id"]  # total 151.00


def pay(client, claim_id, amount, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key != "" else {}
    if key is None:
        headers = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}
    return client.post(f"/api/claims/{claim_id}/payment", {"paid_amount": amount}, format="json", **headers)


def test_payment_larger_than_the_remaining_balance_is_refused(billing_admin, claim_id, finished_encounter):
    _user, client = billing_admin
    refused = pay(client, claim_id, "151.01")
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["code"] == "payment_exceeds_balance" and problem["remaining_balance"] == "151.00"
    assert problem["remediation"] and "paid_amount" in problem["errors"]
    assert pay(client, claim_id, "100.00").status_code == 200
    assert pay(client, claim_id, "51.01").json()["remaining_balance"] == "51.00"
    assert pay(client, claim_id, "51.00").json()["balance_after"] == "0.00"
    claim = Claim.objects.using(finished_encounter._state.db).get(pk=int(claim_id))
    assert str(claim.paid_amount) == "151.00"


def test_a_repeated_payment_needs_its_own_key_and_a_retry_answers_as_the_first(
    billing_admin, claim_id, finished_encounter
):
    _user, client = billing_admin
    alias = finished_encounter._state.db
    assert pay(client, claim_id, "40.00", key="").status_code == 400
    first = pay(client, claim_id, "40.00", key="remit-1")
    again = pay(client, claim_id, "40.00", key="remit-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert ClaimPayment.objects.using(alias).count() == 1
    assert OutboxEvent.objects.using(alias).filter(event_type="ClaimPaid").count() == 1
    reused = pay(client, claim_id, "41.00", key="remit-1")
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    second = pay(client, claim_id, "40.00", key="remit-2")
    assert second.status_code == 200 and second.json()["payment_id"] != first.json()["payment_id"]
    assert str(Claim.objects.using(alias).get(pk=int(claim_id)).paid_amount) == "80.00"


def test_operator_sees_no_diagnosis_codes_and_no_fhir_export(claim_id, finished_encounter):
    _user, token = persona_user("operator")
    operator = api_client(token)
    response = operator.get(f"/api/claims/{claim_id}")
    assert response.status_code == 200
    assert response.json()["line_items"] and all("diagnosis_codes" not in i for i in response.json()["line_items"])
    assert "I10" not in response.content.decode()
    assert operator.get(f"/api/claims/{claim_id}?format=fhir").status_code == 403
    event = AuditEvent.objects.using(finished_encounter._state.db).get(action="claim.read")
    assert event.actor_role == "operator" and event.detail["purpose"] == "operations"


def test_billing_reads_and_fhir_exports_are_audited_for_payment(billing_admin, claim_id, finished_encounter):
    _user, client = billing_admin
    assert "I10" in client.get(f"/api/claims/{claim_id}").content.decode()
    assert client.get(f"/api/claims/{claim_id}?format=fhir").status_code == 200
    events = AuditEvent.objects.using(finished_encounter._state.db).filter(resource_id=claim_id)
    assert {e.action for e in events if e.detail.get("purpose") == "payment"} == {"claim.read", "claim.fhir_exported"}


def test_claims_line_items_and_payments_keep_history(billing_admin, claim_id, finished_encounter):
    user, client = billing_admin
    alias = finished_encounter._state.db
    pay(client, claim_id, "151.00")
    claim_history = Claim.history.model.objects.using(alias).filter(id=int(claim_id)).order_by("history_date")
    assert [h.history_type for h in claim_history] == ["+", "~"]
    assert claim_history.last().status == "paid" and claim_history.last().history_user_id == user.pk
    assert ClaimLineItem.history.model.objects.using(alias).filter(claim_id=int(claim_id)).count() == 2
    assert ClaimPayment.history.model.objects.using(alias).count() == 1
