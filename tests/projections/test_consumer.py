"""The projection worker on real Redis Streams: consumer group, ack after apply, redelivery of the
entries a crashed worker left pending, dead letters for malformed events."""

from __future__ import annotations

import pytest

from apps.outbox.eventbus import get_event_bus
from apps.projections.consumer import ProjectionConsumer
from apps.projections.events import CONSUMER_GROUP, DEAD_LETTER_STREAM, STREAMS
from apps.projections.selectors import read_models_snapshot
from apps.projections.services import read_models_apply
from tests.projections.conftest import synthetic_history

pytestmark = pytest.mark.django_db(databases="__all__")


def pending_total(bus) -> int:
    return sum(bus.pending_count(stream, CONSUMER_GROUP) for stream in STREAMS)


def expected_snapshot(history):
    """The read models the history must produce, computed without the bus."""
    from apps.projections.events import parse_envelope

    read_models_apply([parse_envelope(envelope) for envelope in history])
    snapshot = read_models_snapshot()
    from apps.projections.models import ClaimFact, EncounterFact, FinancialDailyAggregate, ProcessedEvent

    for model in (FinancialDailyAggregate, ClaimFact, EncounterFact, ProcessedEvent):
        model.objects.all().delete()
    return snapshot


def test_worker_applies_and_acknowledges_everything():
    bus = get_event_bus()
    history = synthetic_history(claims=40)
    expected = expected_snapshot(history)
    bus.publish_batch(history)
    worker = ProjectionConsumer(bus=bus, consumer="w1", batch_size=25)
    assert worker.drain() == len(history)
    assert pending_total(bus) == 0
    assert read_models_snapshot() == expected


def test_entries_of_a_worker_that_died_mid_batch_are_redelivered_and_totals_stay_exact():
    bus = get_event_bus()
    history = synthetic_history(claims=40)
    expected = expected_snapshot(history)
    bus.publish_batch(history)

    doomed = ProjectionConsumer(bus=bus, consumer="doomed", batch_size=30)
    messages, _ = doomed.read()
    assert messages
    # It applied (committed) the first half of its batch, then died before acknowledging anything.
    from apps.projections.events import parse_envelope

    read_models_apply([parse_envelope(m.event) for m in messages[:15]])
    assert pending_total(bus) == len(messages)

    survivor = ProjectionConsumer(bus=bus, consumer="survivor", batch_size=30, claim_idle_ms=0)
    survivor.drain()
    assert pending_total(bus) == 0
    assert read_models_snapshot() == expected


def test_stale_entries_are_not_stolen_from_a_live_worker():
    bus = get_event_bus()
    bus.publish_batch(synthetic_history(claims=5))
    busy = ProjectionConsumer(bus=bus, consumer="busy", batch_size=100)
    messages, _ = busy.read()
    other = ProjectionConsumer(bus=bus, consumer="other", claim_idle_ms=60_000)
    assert other.drain() == 0
    assert pending_total(bus) == len(messages)


def test_malformed_event_goes_to_the_dead_letter_stream_and_the_rest_apply():
    from prometheus_client import REGISTRY

    bus = get_event_bus()
    history = synthetic_history(claims=3)
    poison = dict(history[1], payload={"claim_id": "x"}, event_id="poison-1")
    poison["event_type"] = "ClaimSubmitted"
    labels = {"projection": "financial", "event_type": "ClaimSubmitted"}
    before = REGISTRY.get_sample_value("projection_dead_letters_total", labels) or 0
    bus.publish_batch([*history, poison])
    assert ProjectionConsumer(bus=bus, consumer="w").drain() == len(history)
    assert pending_total(bus) == 0
    dead = bus.client.xrange(DEAD_LETTER_STREAM)
    assert len(dead) == 1 and b"poison-1" in dead[0][1][b"event"] and dead[0][1][b"error"]
    assert REGISTRY.get_sample_value("projection_dead_letters_total", labels) == before + 1


def test_worker_exports_lag_and_applied_counters():
    from prometheus_client import REGISTRY

    bus = get_event_bus()
    history = synthetic_history(claims=2)
    bus.publish_batch(history)
    labels = {"projection": "financial", "event_type": "ClaimSubmitted"}
    before = REGISTRY.get_sample_value("projection_events_applied_total", labels) or 0
    ProjectionConsumer(bus=bus, consumer="w").drain()
    assert REGISTRY.get_sample_value("projection_events_applied_total", labels) == before + 2
    # The synthetic events were committed days ago: the last one applied is that old.
    assert REGISTRY.get_sample_value("projection_worker_lag_seconds", {"projection": "financial"}) > 3600
    assert REGISTRY.get_sample_value("projection_apply_lag_seconds_count", labels) >= 2


def test_worker_loop_backs_off_while_the_bus_is_down_and_does_not_die(settings, monkeypatch):
    from apps.outbox.eventbus import RedisStreamsEventBus

    down = RedisStreamsEventBus("redis://127.0.0.1:1/0")
    sleeps = []
    monkeypatch.setattr("apps.projections.consumer.time.sleep", sleeps.append)
    worker = ProjectionConsumer(bus=down, consumer="w", block_ms=10)
    assert worker.run(stop=lambda: len(sleeps) >= 3) == 0
    assert sleeps == [1.0, 2.0, 4.0]  # doubling back-off, the loop survived


def test_beat_drain_task_applies_what_is_waiting():
    from apps.projections.tasks import projections_drain_task

    bus = get_event_bus()
    history = synthetic_history(claims=4)
    bus.publish_batch(history)
    assert projections_drain_task.apply().get() == len(history)
    assert pending_total(bus) == 0


def _claim_with_trace(*, claim_id: int, trace_id: str, sampled: bool) -> dict:
    from datetime import timedelta

    from django.utils import timezone

    from tests.support.envelopes import claim_submitted

    headers = {
        "traceparent": f"00-{trace_id}-00f067aa0ba902b7-{'01' if sampled else '00'}",
        "request_id": f"req-{claim_id}",
        "trace_id": trace_id,
        "user_id": "7",
        "persona": "billing_admin",
        "actor_role": "billing_admin",
        "shard_id": "shard_0",
    }
    return claim_submitted(
        claim_id=claim_id,
        encounter_id=claim_id + 1,
        payer_code="ACME-HEALTH",
        total_amount="120.00",
        submitted_at=timezone.now() - timedelta(minutes=5),
        headers=headers,
    )


def test_events_of_unsampled_traces_are_applied_and_logged_without_spans():
    from apps.projections.models import ClaimFact
    from apps.telemetry.participants import Participant
    from apps.telemetry.tracing import span_store
    from tests.support.logs import json_log_lines

    sampled_trace, dropped_trace = "4bf92f3577b34da6a3ce929d0e0e4736", "5ce0e9a56015fec5aadfa328ae398115"
    bus = get_event_bus()
    bus.publish_batch(
        [
            _claim_with_trace(claim_id=71, trace_id=sampled_trace, sampled=True),
            _claim_with_trace(claim_id=72, trace_id=dropped_trace, sampled=False),
        ]
    )
    span_store.clear()
    with json_log_lines() as lines:
        assert ProjectionConsumer(bus=bus, consumer="w1").drain() == 2
    assert set(ClaimFact.objects.values_list("claim_id", flat=True)) == {71, 72}
    applied = {line["request_id"]: line for line in lines if line["event"] == "projection_event_applied"}
    assert set(applied) == {"req-71", "req-72"}
    assert applied["req-72"]["trace_id"] == dropped_trace and applied["req-72"]["persona"] == "billing_admin"
    # The sampled request's trace continues into the worker and the dashboard update, with its labels.
    kept = {span.name: span for span in span_store.trace(sampled_trace)}
    assert set(kept) == {Participant.PROJECTION_WORKER.value, Participant.FINANCIAL_DASHBOARD.value}
    assert kept[Participant.PROJECTION_WORKER.value].attributes["request_id"] == "req-71"
    assert span_store.trace(dropped_trace) == []
