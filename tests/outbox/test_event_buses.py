"""Both event buses honour the same protocol: streams, consumer groups, acks, pending entries,
redelivery of entries a crashed consumer left behind, and range reads."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.db import transaction

from apps.outbox.consumers import IdempotentConsumer, event_apply_once
from apps.outbox.embedded_bus import DatabaseEventBus
from apps.outbox.eventbus import RedisStreamsEventBus, stream_for
from apps.outbox.models import EventStreamEntry, OutboxEvent, OutboxStatus
from apps.outbox.relay import outbox_relay_drain
from apps.outbox.services import outbox_event_record
from tests.support.bus import redis_emptied

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def redis_bus():
    with redis_emptied():
        yield RedisStreamsEventBus(django_settings.PIMLAB_EVENTBUS_URL)


@pytest.fixture(params=["database", "redis"])
def bus(request):
    return DatabaseEventBus() if request.param == "database" else request.getfixturevalue("redis_bus")


def envelope(n: int, event_type: str = "BusProbe") -> dict:
    return {
        "event_id": str(1000 + n),
        "event_type": event_type,
        "aggregate_type": "Patient",
        "aggregate_id": "42",
        "occurred_at": "2030-01-01T00:00:00+00:00",
        "payload": {"n": n},
        "headers": {},
    }


def test_publish_read_group_ack_and_pending(bus):
    stream = stream_for("BusProbe")
    ids = bus.publish_each([envelope(n) for n in range(5)])
    assert all(isinstance(i, str) for i in ids)

    first = bus.read_group(group="g", consumer="a", streams=[stream], count=3)
    second = bus.read_group(group="g", consumer="b", streams=[stream], count=10)
    assert [m.event["payload"]["n"] for m in first + second] == [0, 1, 2, 3, 4]
    assert bus.pending_count(stream, "g") == 5
    assert bus.ack(stream, "g", [m.message_id for m in first]) == 3
    assert bus.pending_count(stream, "g") == 2
    assert bus.read_group(group="g", consumer="a", streams=[stream], count=10) == []
    # A second group sees the whole stream independently.
    assert len(bus.read_group(group="other", consumer="x", streams=[stream], count=10)) == 5
    assert [m.event["payload"]["n"] for m in bus.read_range(stream, after_id=ids[1])] == [2, 3, 4]
    assert bus.ping()


def test_claim_stale_redelivers_what_a_crashed_consumer_left(bus):
    stream = stream_for("BusProbe")
    bus.publish_each([envelope(n) for n in range(3)])
    crashed = bus.read_group(group="g", consumer="crashed", streams=[stream], count=10)
    assert len(crashed) == 3  # delivered, never acknowledged

    assert bus.claim_stale(stream=stream, group="g", consumer="rescuer", min_idle_ms=60_000) == []
    rescued = bus.claim_stale(stream=stream, group="g", consumer="rescuer", min_idle_ms=0)
    assert sorted(m.message_id for m in rescued) == sorted(m.message_id for m in crashed)
    assert all(m.delivery_count >= 2 for m in rescued)
    bus.ack(stream, "g", [m.message_id for m in rescued])
    assert bus.pending_count(stream, "g") == 0


def test_idempotent_consumer_recovers_a_crash_without_double_applying(bus):
    bus.publish_each([envelope(n) for n in range(4)])
    applied: list[int] = []

    def explode_on_two(event):
        if event["payload"]["n"] == 2:
            raise RuntimeError("handler bug")
        applied.append(event["payload"]["n"])

    crashing = IdempotentConsumer(name="a", group="proj", event_types=["BusProbe"], handler=explode_on_two, bus=bus)
    outcome = crashing.poll(count=10, reclaim_idle_ms=None)
    assert (outcome.applied, outcome.failed) == (3, 1)

    healthy = IdempotentConsumer(
        name="b", group="proj", event_types=["BusProbe"], handler=lambda e: applied.append(e["payload"]["n"]), bus=bus
    )
    outcome = healthy.poll(count=10, reclaim_idle_ms=0)
    assert outcome.applied == 1 and sorted(applied) == [0, 1, 2, 3]
    assert bus.pending_count(stream_for("BusProbe"), "proj") == 0


def test_event_apply_once_rolls_back_its_mark_when_the_handler_fails():
    event = envelope(1)

    def failing(_event):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        event_apply_once(consumer="c", event=event, handler=failing)
    calls = []
    assert event_apply_once(consumer="c", event=event, handler=calls.append) is True
    assert event_apply_once(consumer="c", event=event, handler=calls.append) is False
    assert len(calls) == 1


def test_relay_drains_into_the_database_bus(patient):
    with transaction.atomic(using="shard_0"):
        events = [
            outbox_event_record(
                using="shard_0", aggregate_type="Patient", aggregate_id=patient.id, event_type="BusProbe", payload={}
            )
            for _ in range(3)
        ]
    bus = DatabaseEventBus()
    assert outbox_relay_drain(shard_alias="shard_0", bus=bus) == 3
    assert list(EventStreamEntry.objects.values_list("event_id", flat=True)) == [str(e.id) for e in events]
    assert not OutboxEvent.objects.using("shard_0").exclude(status=OutboxStatus.PUBLISHED).exists()
