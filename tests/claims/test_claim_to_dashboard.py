"""A claim submitted through the API reaches the financial dashboard once its outbox rows are on the
bus (published here in the relay's envelope shape), and logs never tie amounts to names."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.outbox.eventbus import get_event_bus
from apps.projections.consumer import ProjectionConsumer
from tests.claims.conftest import claim_body, post_claim
from tests.factories import EncounterFactory
from tests.support.envelopes import encounter_created, publish_pending_outbox
from tests.support.logs import json_log_lines

pytestmark = pytest.mark.django_db(databases="__all__")


def test_submitted_claim_shows_on_the_dashboard_with_its_lag(billing_admin):
    _user, client = billing_admin
    encounter = EncounterFactory(requested_start=timezone.now() - timedelta(hours=30))
    get_event_bus().publish_batch(
        [
            encounter_created(
                encounter_id=encounter.id, patient_id=encounter.patient_id, requested_start=encounter.requested_start
            )
        ]
    )
    claim_id = post_claim(client, claim_body(encounter)).json()["claim_id"]
    before = client.get("/api/dashboards/financial").json()
    assert before["totals"]["claims"] == 0

    published = publish_pending_outbox(using=encounter._state.db, event_types=("ClaimSubmitted",))
    assert [e["payload"]["claim_id"] for e in published] == [claim_id]
    stale = client.get("/api/dashboards/financial").json()
    assert stale["freshness"]["backlog_events"] == 2  # the encounter's event and the claim's

    ProjectionConsumer(bus=get_event_bus(), consumer="w").drain()
    after = client.get("/api/dashboards/financial").json()
    assert after["totals"]["claims"] == 1 and after["totals"]["amount"] == "151.00"
    assert after["totals"]["open"] == {"claims": 1, "amount": "151.00"}
    assert 30 * 3600 <= after["totals"]["avg_submission_lag_seconds"] < 30 * 3600 + 120
    assert after["freshness"]["staleness_seconds"] == 0

    client.post(
        f"/api/claims/{claim_id}/payment", {"paid_amount": "151.00"}, format="json", HTTP_IDEMPOTENCY_KEY="pay-1"
    )
    publish_pending_outbox(using=encounter._state.db, event_types=("ClaimPaid",))
    ProjectionConsumer(bus=get_event_bus(), consumer="w").drain()
    paid = client.get("/api/dashboards/financial").json()["totals"]
    assert paid["paid"] == {"claims": 1, "amount": "151.00", "paid_amount": "151.00"} and paid["open"]["claims"] == 0


def test_logs_carry_correlation_ids_and_mask_claim_amounts(billing_admin):
    with json_log_lines() as lines:
        _user, client = billing_admin
        encounter = EncounterFactory()
        patient = encounter.patient
        response = post_claim(client, claim_body(encounter))
        publish_pending_outbox(using=encounter._state.db, event_types=("ClaimSubmitted",))
        ProjectionConsumer(bus=get_event_bus(), consumer="w").drain()
    text = json.dumps(lines)
    for secret in (patient.given_name, patient.family_name, patient.mrn, "151.00", "120.00", "15.50"):
        assert secret not in text
    submitted = next(line for line in lines if line["event"] == "claim_submitted")
    applied = next(line for line in lines if line["event"] == "projection_event_applied")
    assert submitted["amount_band"] == "100-1k" and submitted["claim_id"] == response.json()["claim_id"]
    for field in ("trace_id", "request_id", "user_id", "persona", "actor_role", "shard_id"):
        assert submitted[field], field
        assert str(applied[field]) == str(submitted[field]), field
