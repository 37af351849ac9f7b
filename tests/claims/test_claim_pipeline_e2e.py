"""End to end through the real outbox relay: claim → relay → event bus → projection → dashboard.

Needs ``apps.outbox.relay.outbox_relay_drain`` (the encounter-booking scenario's relay)."""

from __future__ import annotations

import pytest

from apps.outbox.eventbus import get_event_bus
from apps.outbox.models import OutboxEvent
from apps.projections.consumer import ProjectionConsumer
from apps.telemetry.tracing import span_store
from tests.claims.conftest import claim_body, post_claim
from tests.factories import EncounterFactory

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def test_claim_reaches_the_financial_dashboard_through_the_relay(billing_admin):
    from apps.outbox.relay import outbox_relay_drain

    _user, client = billing_admin
    encounter = EncounterFactory()
    alias = encounter._state.db
    span_store.clear()
    response = post_claim(client, claim_body(encounter))
    assert response.status_code == 202
    claim_id, trace_id = response.json()["claim_id"], response.json()["trace_id"]
    assert client.get("/api/dashboards/financial").json()["totals"]["claims"] == 0

    assert outbox_relay_drain(shard_alias=alias) >= 1
    row = OutboxEvent.objects.using(alias).get(event_type="ClaimSubmitted")
    assert row.status == "published" and row.payload["claim_id"] == claim_id

    ProjectionConsumer(bus=get_event_bus(), consumer="e2e").drain()
    body = client.get("/api/dashboards/financial").json()
    assert body["totals"]["claims"] == 1 and body["totals"]["amount"] == "151.00"
    assert body["freshness"]["staleness_seconds"] == 0
    # The projection update continues the request's trace across the relay hop.
    names = [span.name for span in span_store.trace(trace_id)]
    assert "Projection Worker" in names and "Financial Dashboard" in names
