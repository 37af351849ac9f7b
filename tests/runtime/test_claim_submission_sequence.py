"""Seed "Billing Submits Claim": one claim yields the diagram's participants as spans of ONE trace,
from the API through the outbox to the projection worker's KPI update, with the seed's labels."""

from __future__ import annotations

import pytest

from apps.outbox.eventbus import get_event_bus
from apps.projections.consumer import ProjectionConsumer
from apps.telemetry.tracing import span_store
from tests.claims.conftest import claim_body, post_claim
from tests.factories import EncounterFactory, persona_user
from tests.support.api import api_client
from tests.support.claims import claims_lab_reset
from tests.support.envelopes import publish_pending_outbox

pytestmark = pytest.mark.django_db(databases="__all__")

SEED_PARTICIPANTS = [
    "API Gateway",
    "Billing Service API",
    "Billing Orchestrator",
    "Billing Repository Adapter",
    "SQL Shard Primary",
    "Outbox Writer",
    "Projection Worker",
    "Financial Dashboard",
]
LABELS = ("trace_id", "request_id", "user_id", "persona", "actor_role", "shard_id")


@pytest.fixture(autouse=True)
def clean_bus(request):
    yield from claims_lab_reset(request)


def test_claim_submission_produces_the_seed_span_sequence():
    user, token = persona_user("billing_admin")
    client = api_client(token)
    encounter = EncounterFactory()
    span_store.clear()

    response = post_claim(client, claim_body(encounter))
    assert response.status_code == 202
    trace_id = response.json()["trace_id"]
    publish_pending_outbox(using=encounter._state.db)
    ProjectionConsumer(bus=get_event_bus(), consumer="runtime").drain()

    spans = span_store.trace(trace_id)
    by_name = {}
    for span in spans:
        by_name.setdefault(span.name, span)
    sequence = [span.name for span in spans if span.name in SEED_PARTICIPANTS]
    assert sequence == SEED_PARTICIPANTS

    # The HTTP server span is the root of the trace; the API Gateway span sits right under it.
    root = next(span for span in spans if span.parent is None)
    assert root.attributes.get("http.route") == "api/claims" or "api/claims" in root.name
    parent_of = {name: span.parent.span_id for name, span in by_name.items() if span.parent is not None}
    span_id = {name: span.context.span_id for name, span in by_name.items()}
    assert parent_of["API Gateway"] == root.context.span_id
    assert by_name["API Gateway"].attributes["http.route"] == "api/claims"
    assert parent_of["Billing Service API"] == span_id["API Gateway"]
    assert parent_of["Billing Orchestrator"] == span_id["Billing Service API"]
    assert parent_of["Billing Repository Adapter"] == span_id["Billing Orchestrator"]
    assert parent_of["SQL Shard Primary"] == span_id["Billing Repository Adapter"]
    assert parent_of["Outbox Writer"] == span_id["Billing Orchestrator"]
    # The async hop: the worker continues the trace from the envelope's traceparent and links its batch.
    assert parent_of["Projection Worker"] == span_id["Outbox Writer"]
    assert parent_of["Financial Dashboard"] == span_id["Projection Worker"]
    worker = by_name["Projection Worker"]
    assert worker.links and worker.links[0].context.trace_id != int(trace_id, 16)
    batch = next(s for s in span_store.spans() if s.context.span_id == worker.links[0].context.span_id)
    assert any(link.context.span_id == span_id["Outbox Writer"] for link in batch.links)

    for name in SEED_PARTICIPANTS:
        attributes = by_name[name].attributes
        for label in LABELS:
            assert attributes.get(label), f"{name} lacks {label}"
        assert attributes["trace_id"] == trace_id
        assert attributes["user_id"] == str(user.pk) and attributes["actor_role"] == "billing_admin"
        assert attributes["shard_id"] == encounter._state.db
