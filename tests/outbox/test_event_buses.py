"""Both event buses honour the same protocol: streams, consumer groups, acks, pending entries,
redelivery of entries a crashed consumer left behind, and range reads."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import redis
from django.conf import settings as django_settings
from django.utils import timezone

from apps.outbox.embedded_bus import DatabaseEventBus
from apps.outbox.eventbus import RedisStreamsEventBus, stream_for
from apps.outbox.events import EventType
from apps.outbox.models import EventStreamEntry, OutboxEvent, OutboxStatus
from apps.outbox.relay import outbox_relay_drain
from apps.projections.consumer import ProjectionConsumer
from apps.projections.events import CONSUMER_GROUP, parse_envelope
from apps.projections.models import EncounterFact
from apps.projections.services import read_models_apply
from tests.outbox.recording import outbox_record
from tests.support.bus import redis_emptied
from tests.support.envelopes import encounter_created

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


def test_redis_publishes_in_order_in_one_call_and_stops_a_key_at_its_first_rejected_event(redis_bus):
    redis_bus.client.set(stream_for("Broken"), "not a stream")  # XADD to this key fails: WRONGTYPE
    events = [
        ("BusProbe", "a", json.dumps(envelope(0))),
        ("Broken", "a", json.dumps(envelope(1, "Broken"))),
        ("BusProbe", "b", json.dumps(envelope(2))),
        ("BusProbe", "a", json.dumps(envelope(3))),  # after a's failure: not sent
        ("BusProbe", "b", json.dumps(envelope(4))),
    ]
    results = redis_bus.publish_in_order(events)

    assert [type(result) for result in results] == [str, redis.ResponseError, str, type(None), str]
    assert "WRONGTYPE" in str(results[1])
    on_bus = redis_bus.read_range(stream_for("BusProbe"))
    assert [m.message_id for m in on_bus] == [results[0], results[2], results[4]]
    assert [m.event for m in on_bus] == [envelope(0), envelope(2), envelope(4)]
    assert redis_bus.publish_in_order([]) == []


def test_redis_refuses_a_batch_its_packed_script_argument_could_not_split(redis_bus):
    # One argument carries the batch, a line per event: a raw line break would split an envelope.
    with pytest.raises(ValueError, match="line break"):
        redis_bus.publish_in_order([("BusProbe", "a", '{"note": "two\nlines"}'), ("BusProbe", "b", "{}")])
    with pytest.raises(ValueError, match="space"):
        redis_bus.publish_in_order([("BusProbe", "a b", "{}")])
    assert redis_bus.read_range(stream_for("BusProbe")) == []


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


def test_the_projection_consumer_recovers_a_crash_on_either_bus_without_double_applying(bus):
    start = timezone.now() + timedelta(days=1)
    envelopes = [encounter_created(encounter_id=2000 + n, patient_id=42, requested_start=start) for n in range(4)]
    bus.publish_each(envelopes)
    crashed = ProjectionConsumer(bus=bus, consumer="a", batch_size=10)
    messages, _ = crashed.read()
    assert len(messages) == 4  # delivered, never acknowledged: the consumer died
    read_models_apply([parse_envelope(m.event) for m in messages[:2]])  # ...after applying half

    survivor = ProjectionConsumer(bus=bus, consumer="b", batch_size=10, claim_idle_ms=0)
    assert survivor.drain() == 2  # the other two were already applied: recorded once, skipped
    assert sorted(EncounterFact.objects.values_list("encounter_id", flat=True)) == [2000, 2001, 2002, 2003]
    assert bus.pending_count(stream_for(EventType.ENCOUNTER_CREATED), CONSUMER_GROUP) == 0


def test_relay_drains_into_the_database_bus(patient):
    events = [outbox_record("shard_0", patient.id) for _ in range(3)]
    bus = DatabaseEventBus()
    assert outbox_relay_drain(shard_alias="shard_0", bus=bus) == 3
    assert list(EventStreamEntry.objects.values_list("event_id", flat=True)) == [str(e.id) for e in events]
    assert not OutboxEvent.objects.using("shard_0").exclude(status=OutboxStatus.PUBLISHED).exists()


# --- Poison messages and malformed events: the same on every bus ------------------------------------


def dead_letters(bus) -> list[dict]:
    from apps.projections.events import DEAD_LETTER_STREAM

    if isinstance(bus, RedisStreamsEventBus):
        return [
            {key.decode(): value.decode() for key, value in fields.items()}
            for _id, fields in bus.client.xrange(DEAD_LETTER_STREAM)
        ]
    return [
        {**entry.event, "event": __import__("json").dumps(entry.event["event"])}
        for entry in EventStreamEntry.objects.filter(stream=DEAD_LETTER_STREAM).order_by("id")
    ]


def projection_pending(bus) -> int:
    from apps.projections.events import STREAMS

    return sum(bus.pending_count(stream, CONSUMER_GROUP) for stream in STREAMS)


def test_an_entry_that_always_fails_is_dead_lettered_after_the_delivery_limit_with_an_alert(bus):
    from decimal import Decimal

    from django.db import DatabaseError
    from prometheus_client import REGISTRY

    from apps.projections.models import ProcessedEvent
    from apps.slo.models import AlertEvent
    from tests.support.envelopes import claim_submitted

    start = timezone.now() - timedelta(days=3)
    good = [encounter_created(encounter_id=70_000 + n, patient_id=700 + n, requested_start=start) for n in range(3)]
    # 10^15 does not fit the read model's numeric(14, 2): the catalog refuses it on every delivery.
    poison = claim_submitted(
        claim_id=970_001,
        encounter_id=70_000,
        payer_code="ACME-HEALTH",
        total_amount=Decimal("1000000000000000.00"),
        submitted_at=start,
        patient_id=700,
        event_id="poison-always-fails",
    )
    bus.publish_batch([*good[:1], poison, *good[1:]])
    labels = {"projection": "financial", "stream": stream_for(poison["event_type"])}
    before = REGISTRY.get_sample_value("projection_poison_messages_total", labels) or 0

    worker = ProjectionConsumer(
        bus=bus, consumer="w", claim_idle_ms=0, claim_interval_seconds=0, max_deliveries=3, trace_events=False
    )
    failures = 0
    for _ in range(12):
        try:
            worker.run_once(blocking=False)
        except DatabaseError:
            failures += 1
    # Delivered 3 times (read, then two reclaims), set aside on the fourth.
    assert failures >= 2  # the whole first batch, then the poison entry alone (its 3rd delivery)
    assert projection_pending(bus) == 0
    assert set(ProcessedEvent.objects.values_list("event_id", flat=True)) == {e["event_id"] for e in good}
    [dead] = dead_letters(bus)
    assert "poison-always-fails" in dead["event"] and "delivered 4 times (limit 3)" in dead["error"]
    assert REGISTRY.get_sample_value("projection_poison_messages_total", labels) == before + 1
    alert = AlertEvent.objects.get(name="ProjectionPoisonMessages")
    assert alert.status == "firing" and alert.annotations["event_id"] == "poison-always-fails"
    assert alert.annotations["runbook"] == "docs/runbooks/18_projection-backlog.md"


def test_a_malformed_event_is_dead_lettered_on_every_bus_not_dropped(bus):
    start = timezone.now() - timedelta(days=1)
    good = encounter_created(encounter_id=71_000, patient_id=710, requested_start=start)
    malformed = dict(good, event_id="malformed-1", occurred_at="yesterday")
    bus.publish_batch([malformed, good])
    assert ProjectionConsumer(bus=bus, consumer="w", trace_events=False).drain() == 1
    assert projection_pending(bus) == 0
    [dead] = dead_letters(bus)
    assert "malformed-1" in dead["event"] and "occurred_at" in dead["error"]
    assert dead["stream"] == stream_for(good["event_type"])


class _CommandRecordingRedis(redis.Redis):
    """A real Redis client that also keeps the name of each command it sends ("XGROUP CREATE")."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.commands: list[str] = []

    def execute_command(self, *args, **options):
        self.commands.append(args[0])
        return super().execute_command(*args, **options)


def test_redis_creates_each_consumer_group_once_and_again_after_its_stream_was_deleted(redis_bus):
    redis_bus.client = _CommandRecordingRedis.from_url(django_settings.PIMLAB_EVENTBUS_URL)
    stream = stream_for("BusProbe")
    redis_bus.publish_each([envelope(n) for n in range(3)])

    for _ in range(3):
        redis_bus.read_group(group="g", consumer="a", streams=[stream], count=1)
        redis_bus.claim_stale(stream=stream, group="g", consumer="a", min_idle_ms=60_000)
    assert redis_bus.client.commands.count("XGROUP CREATE") == 1

    redis_bus.client.delete(stream)  # the group goes with its stream: the next read must recreate it
    redis_bus.publish_each([envelope(9)])
    assert [m.event["payload"]["n"] for m in redis_bus.read_group(group="g", consumer="a", streams=[stream])] == [9]
    assert redis_bus.client.commands.count("XGROUP CREATE") == 2
    assert redis_bus.claim_stale(stream=stream, group="g", consumer="b", min_idle_ms=0) != []
