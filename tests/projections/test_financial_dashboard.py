"""GET /api/dashboards/financial: KPIs from the read models, with their staleness."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.outbox.eventbus import get_event_bus
from apps.projections.consumer import ProjectionConsumer
from tests.factories import persona_user
from tests.support.api import api_client
from tests.support.envelopes import claim_paid, claim_submitted, encounter_created

pytestmark = pytest.mark.django_db(databases="__all__")


def publish_and_apply(envelopes):
    bus = get_event_bus()
    bus.publish_batch(envelopes)
    ProjectionConsumer(bus=bus, consumer="w").drain()


@pytest.fixture
def sre_client():
    _user, token = persona_user("sre")
    return api_client(token)


def test_kpis_per_day_payer_status_lag_and_open_vs_paid(sre_client):
    now = timezone.now().replace(microsecond=0)
    day1, day2 = now - timedelta(days=2), now - timedelta(days=1)
    publish_and_apply(
        [
            encounter_created(encounter_id=1, patient_id=9, requested_start=day1 - timedelta(hours=2)),
            encounter_created(encounter_id=2, patient_id=9, requested_start=day2 - timedelta(hours=4)),
            encounter_created(encounter_id=3, patient_id=9, requested_start=day2 - timedelta(hours=1)),
            claim_submitted(
                claim_id=11, encounter_id=1, payer_code="ACME-HEALTH", total_amount="100.00", submitted_at=day1
            ),
            claim_submitted(
                claim_id=12, encounter_id=2, payer_code="MEDICARE", total_amount="50.50", submitted_at=day2
            ),
            claim_paid(claim_id=11, paid_amount="95.00", paid_at=day2),
        ]
    )
    response = sre_client.get("/api/dashboards/financial?days=7")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["totals"] == {
        "claims": 2,
        "amount": "150.50",
        "paid_amount": "95.00",
        "avg_submission_lag_seconds": 3 * 3600.0,
        "open": {"claims": 1, "amount": "50.50"},
        "paid": {"claims": 1, "amount": "100.00", "paid_amount": "95.00"},
        "encounters_booked": 3,
        "encounters_unbilled": 1,
    }
    assert [(d["day"], d["claims"], d["amount"]) for d in body["per_day"]] == [
        (day1.date().isoformat(), 1, "100.00"),
        (day2.date().isoformat(), 1, "50.50"),
    ]
    assert {p["payer_code"]: p["amount"] for p in body["per_payer"]} == {"ACME-HEALTH": "100.00", "MEDICARE": "50.50"}
    assert {s["status"]: s["claims"] for s in body["per_status"]} == {"paid": 1, "submitted": 1}
    freshness = body["freshness"]
    assert freshness["staleness_seconds"] == 0 and freshness["backlog_events"] == 0
    assert freshness["events_applied"] == 6 and freshness["last_applied_at"]


def test_dashboard_reports_staleness_while_claims_wait(sre_client):
    committed = timezone.now() - timedelta(seconds=120)
    get_event_bus().publish_batch(
        [
            claim_submitted(
                claim_id=13, encounter_id=4, payer_code="NORTHSTAR", total_amount="10.00", submitted_at=committed
            )
        ]
    )
    body = sre_client.get("/api/dashboards/financial").json()
    assert body["totals"]["claims"] == 0
    assert body["freshness"]["backlog_events"] == 1 and body["freshness"]["staleness_seconds"] >= 120


@pytest.mark.parametrize(
    ("role", "status"), [("billing_admin", 200), ("operator", 200), ("clinician", 403), ("patient", 403)]
)
def test_dashboard_roles(role, status):
    from tests.factories import PatientFactory

    _user, token = persona_user(role, patient=PatientFactory() if role == "patient" else None)
    assert api_client(token).get("/api/dashboards/financial").status_code == status


def test_bad_window_is_400(sre_client):
    response = sre_client.get("/api/dashboards/financial?days=0")
    assert response.status_code == 400 and "days" in response.json()["errors"]


def test_amounts_are_exact_decimals(sre_client):
    publish_and_apply(
        [
            claim_submitted(
                claim_id=20 + i,
                encounter_id=40 + i,
                payer_code="SELF-PAY",
                total_amount="0.10",
                submitted_at=timezone.now() - timedelta(minutes=1),
            )
            for i in range(3)
        ]
    )
    assert Decimal(sre_client.get("/api/dashboards/financial").json()["totals"]["amount"]) == Decimal("0.30")


def test_dashboard_answers_while_the_event_bus_is_down(sre_client, settings):
    from apps.outbox.eventbus import reset_event_bus

    publish_and_apply(
        [
            claim_submitted(
                claim_id=31, encounter_id=32, payer_code="MEDICARE", total_amount="5.00", submitted_at=timezone.now()
            )
        ]
    )
    settings.PIMLAB_EVENTBUS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    reset_event_bus()
    try:
        body = sre_client.get("/api/dashboards/financial").json()
    finally:
        reset_event_bus()
    assert body["totals"]["claims"] == 1
    assert body["freshness"]["event_bus_reachable"] is False and body["freshness"]["staleness_seconds"] is None
