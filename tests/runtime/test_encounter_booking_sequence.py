"""Seed "Patient Books Encounter": one booking yields the diagram's span sequence, in order,
carrying the seed's labels, and the relay's publish span links back to the request's trace."""

from __future__ import annotations

import pytest

from apps.outbox.eventbus import reset_event_bus
from apps.outbox.models import OutboxEvent
from apps.outbox.relay import outbox_relay_drain
from apps.telemetry.tracing import span_store
from tests.encounters.conftest import book, booking_body

pytestmark = pytest.mark.django_db(databases="__all__")

REQUEST_SEQUENCE = [
    "API Gateway",
    "Patient API Controller",
    "Patient Orchestrator",
    "Shard Resolver",
    "Patient Repository Adapter",
    "SQL Shard Primary",
    "Outbox Writer",
]
PARENT_OF = {
    "Patient API Controller": "API Gateway",
    "Patient Orchestrator": "Patient API Controller",
    "Shard Resolver": "Patient Orchestrator",
    "Patient Repository Adapter": "Patient Orchestrator",
    "SQL Shard Primary": "Patient Repository Adapter",
    "Outbox Writer": "Patient Orchestrator",
}
LABELS = ("trace_id", "request_id", "user_id", "persona", "actor_role")


def test_one_booking_produces_the_seed_span_sequence_with_labels(patient, patient_persona, caplog):
    reset_event_bus()
    patient.given_name, patient.family_name = "Zebedee", "Quillfeather"  # distinctive, to search logs for
    patient.save()
    span_store.clear()
    user, token = patient_persona
    reason = "Chest pain when climbing stairs"
    response = book(token, booking_body(patient.id, reason=reason))
    assert response.status_code == 202
    event = OutboxEvent.objects.using("shard_0").get(pk=int(response.json()["tracking_id"]))
    trace_id = event.headers["trace_id"]

    request_spans = span_store.trace(trace_id)
    seed_spans = [s for s in request_spans if s.name in REQUEST_SEQUENCE]
    assert [s.name for s in seed_spans] == REQUEST_SEQUENCE
    by_name = {s.name: s for s in seed_spans}
    for child, parent in PARENT_OF.items():
        assert by_name[child].parent.span_id == by_name[parent].context.span_id, child
    root = next(s for s in request_spans if s.parent is None)
    assert by_name["API Gateway"].parent.span_id == root.context.span_id  # under the HTTP server span
    for span in seed_spans:
        attributes = dict(span.attributes)
        assert attributes["trace_id"] == trace_id, span.name
        assert attributes["user_id"] == str(user.pk) and attributes["persona"] == "patient", span.name
        assert all(attributes.get(label) for label in LABELS), span.name
    for name in REQUEST_SEQUENCE[3:]:
        assert by_name[name].attributes["shard_id"] == "shard_0", name

    span_store.clear()
    assert outbox_relay_drain(shard_alias="shard_0") == 1
    publish = [s for s in span_store.spans() if s.name == "Event Bus"]
    assert len(publish) == 1 and publish[0].attributes["shard_id"] == "shard_0"
    assert format(publish[0].links[0].context.trace_id, "032x") == trace_id
    relay = next(s for s in span_store.spans() if s.name == "Outbox Relay")
    assert publish[0].parent.span_id == relay.context.span_id

    logged = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    booked = next(m for m in logged if m.get("event") == "encounter_booked")
    assert booked["trace_id"] == trace_id and booked["shard_id"] == "shard_0"
    assert booked["user_id"] == user.pk and booked["persona"] == "patient" and booked["request_id"]
    # No PHI in log lines: neither the visit reason nor the patient's name or birth date.
    for text in (reason, patient.given_name, patient.family_name, patient.birth_date.isoformat()):
        assert not any(text in str(m) for m in logged), text
