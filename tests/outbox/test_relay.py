"""The outbox relay against real PostgreSQL shards and a real Redis stream."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.outbox.consumers import IdempotentConsumer
from apps.outbox.eventbus import RedisStreamsEventBus, get_event_bus, stream_for
from apps.outbox.models import OutboxEvent, OutboxStatus, ProcessedEvent
from apps.outbox.relay import outbox_relay_drain
from apps.outbox.services import outbox_event_record
from tests.encounters.conftest import book, booking_body, patient_in_bucket
from tests.support.bus import redis_emptied
from tests.support.network import unused_port

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture(autouse=True)
def clean_bus():
    """Each test starts from an empty Redis database (this checkout's own db number)."""
    with redis_emptied() as client:
        yield client


@pytest.fixture
def fast_backoff(settings):
    settings.PIMLAB_OUTBOX_BACKOFF_BASE_SECONDS = 0.0
    settings.PIMLAB_OUTBOX_MAX_ATTEMPTS = 3
    return settings


def record(alias: str, aggregate_id: int, event_type: str = "TestHappened", **payload) -> OutboxEvent:
    with transaction.atomic(using=alias):
        return outbox_event_record(
            using=alias, aggregate_type="Patient", aggregate_id=aggregate_id, event_type=event_type, payload=payload
        )


def stream_event_ids(event_type: str) -> list[str]:
    return [m.event["event_id"] for m in get_event_bus().read_range(stream_for(event_type))]


def test_relay_publishes_bookings_to_the_redis_stream_and_marks_rows(patient, patient_persona):
    bodies = [book(patient_persona[1], booking_body(patient.id, reason=f"visit {n}")).json() for n in range(3)]

    assert outbox_relay_drain(shard_alias="shard_0") == 3

    messages = get_event_bus().read_range(stream_for("EncounterCreated"))
    assert [m.event["event_id"] for m in messages] == [b["tracking_id"] for b in bodies]
    envelope = messages[0].event
    assert set(envelope) == {
        *("event_id", "event_type", "aggregate_type", "aggregate_id", "occurred_at", "payload", "headers")
    }
    assert envelope["aggregate_id"] == str(patient.id) and envelope["payload"]["encounter_id"] == bodies[0]["id"]
    assert envelope["headers"]["traceparent"] and envelope["headers"]["shard_id"] == "shard_0"
    rows = OutboxEvent.objects.using("shard_0").all()
    assert {r.status for r in rows} == {OutboxStatus.PUBLISHED} and all(r.published_at for r in rows)
    assert outbox_relay_drain(shard_alias="shard_0") == 0  # nothing published twice


def test_an_aggregate_waiting_for_a_retry_holds_back_its_later_events(patient, other_patient):
    neighbour = patient_in_bucket(5)
    first, second, third = (record("shard_0", patient.id, n=n) for n in range(3))
    other = record("shard_0", neighbour.id, n=9)
    OutboxEvent.objects.using("shard_0").filter(pk=first.pk).update(
        attempts=1, next_attempt_at=timezone.now() + timedelta(hours=1)
    )

    assert outbox_relay_drain(shard_alias="shard_0") == 1
    assert stream_event_ids("TestHappened") == [str(other.id)]

    OutboxEvent.objects.using("shard_0").filter(pk=first.pk).update(next_attempt_at=timezone.now())
    assert outbox_relay_drain(shard_alias="shard_0") == 3
    assert stream_event_ids("TestHappened") == [str(e.id) for e in (other, first, second, third)]


def test_bus_down_keeps_rows_pending_then_delivers_each_once_to_an_idempotent_consumer(patient, fast_backoff):
    neighbour = patient_in_bucket(6)
    events = [record("shard_0", aggregate, n=n) for n, aggregate in enumerate([patient.id, neighbour.id] * 3)]
    down = RedisStreamsEventBus(f"redis://127.0.0.1:{unused_port()}/0")

    for _ in range(5):  # more outage passes than PIMLAB_OUTBOX_MAX_ATTEMPTS
        assert outbox_relay_drain(shard_alias="shard_0", bus=down) == 0
    rows = list(OutboxEvent.objects.using("shard_0").order_by("id"))
    assert {r.status for r in rows} == {OutboxStatus.PENDING}  # an outage never dead-letters
    assert rows[0].attempts == 5 and "unreachable" in rows[0].last_error

    assert outbox_relay_drain(shard_alias="shard_0") == len(events)
    delivered = get_event_bus().read_range(stream_for("TestHappened"))
    assert sorted(m.event["event_id"] for m in delivered) == sorted(str(e.id) for e in events)
    for aggregate in (patient.id, neighbour.id):  # in order per aggregate (patient)
        recorded = [str(e.id) for e in events if e.aggregate_id == aggregate]
        assert [m.event["event_id"] for m in delivered if m.event["aggregate_id"] == str(aggregate)] == recorded

    # At-least-once: a relay crash between publish and commit publishes the batch again.
    OutboxEvent.objects.using("shard_0").update(status=OutboxStatus.PENDING, published_at=None)
    assert outbox_relay_drain(shard_alias="shard_0") == len(events)
    assert len(stream_event_ids("TestHappened")) == 2 * len(events)

    applied: list[str] = []
    consumer = IdempotentConsumer(
        name="c1",
        group="test-projection",
        event_types=["TestHappened"],
        handler=lambda e: applied.append(e["event_id"]),
    )
    outcome = consumer.poll(count=100)
    assert (outcome.delivered, outcome.applied, outcome.duplicates) == (12, 6, 6)
    assert sorted(applied) == sorted(str(e.id) for e in events)
    assert ProcessedEvent.objects.filter(consumer="test-projection").count() == len(events)
    assert get_event_bus().pending_count(stream_for("TestHappened"), "test-projection") == 0


def test_poison_event_becomes_a_dead_letter_and_the_admin_action_retries_it(
    patient, fast_backoff, clean_bus, admin_client
):
    neighbour = patient_in_bucket(7)
    clean_bus.set(stream_for("PoisonProbe"), "not a stream")  # XADD to this key fails: WRONGTYPE
    poison = record("shard_0", patient.id, event_type="PoisonProbe")
    good = record("shard_0", neighbour.id)

    published = [outbox_relay_drain(shard_alias="shard_0") for _ in range(4)]
    assert published == [1, 0, 0, 0]
    poison.refresh_from_db()
    assert poison.status == OutboxStatus.DEAD and poison.attempts == 3 and "WRONGTYPE" in poison.last_error
    assert stream_event_ids("TestHappened") == [str(good.id)]

    from prometheus_client import REGISTRY

    assert REGISTRY.get_sample_value("outbox_dead_letters", {"shard_id": "shard_0"}) == 1

    clean_bus.delete(stream_for("PoisonProbe"))  # the operator fixed the cause
    response = admin_client.post(
        "/admin/outbox/outboxevent/?shard=shard_0",
        {"action": "retry_selected", "_selected_action": [str(poison.id)]},
    )
    assert response.status_code == 302
    poison.refresh_from_db()
    assert (poison.status, poison.attempts) == (OutboxStatus.PENDING, 0)

    assert outbox_relay_drain(shard_alias="shard_0") == 1
    assert stream_event_ids("PoisonProbe") == [str(poison.id)]
    assert REGISTRY.get_sample_value("outbox_dead_letters", {"shard_id": "shard_0"}) == 0


def test_dead_letter_list_in_the_admin_filters_by_status(patient, fast_backoff, clean_bus, admin_client):
    clean_bus.set(stream_for("PoisonProbe"), "x")
    poison = record("shard_0", patient.id, event_type="PoisonProbe")
    for _ in range(3):
        outbox_relay_drain(shard_alias="shard_0")
    page = admin_client.get("/admin/outbox/outboxevent/?shard=shard_0&status__exact=dead")
    assert page.status_code == 200 and str(poison.id) in page.content.decode()
    assert "Retry selected" in page.content.decode()


def test_backlog_gauges_report_pending_count_and_oldest_age(patient):
    from prometheus_client import REGISTRY

    record("shard_0", patient.id)
    OutboxEvent.objects.using("shard_0").update(created_at=timezone.now() - timedelta(minutes=5))
    assert REGISTRY.get_sample_value("outbox_pending_events", {"shard_id": "shard_0"}) == 1
    assert REGISTRY.get_sample_value("outbox_oldest_pending_age_seconds", {"shard_id": "shard_0"}) >= 300
    outbox_relay_drain(shard_alias="shard_0")
    assert REGISTRY.get_sample_value("outbox_pending_events", {"shard_id": "shard_0"}) == 0


def test_relay_refuses_an_unknown_shard():
    with pytest.raises(ValueError, match="not a configured shard"):
        outbox_relay_drain(shard_alias="shard_9")


def test_dead_letter_commands_list_retry_and_drain(patient, fast_backoff, clean_bus):
    from io import StringIO

    from django.core.management import call_command

    clean_bus.set(stream_for("PoisonProbe"), "x")
    poison = record("shard_0", patient.id, event_type="PoisonProbe")
    for _ in range(3):
        outbox_relay_drain(shard_alias="shard_0")
    listing = StringIO()
    call_command("outbox_dead_letters", "--shard", "shard_0", stdout=listing)
    assert "1 dead letter" in listing.getvalue() and str(poison.id) in listing.getvalue()
    assert "WRONGTYPE" in listing.getvalue()

    clean_bus.delete(stream_for("PoisonProbe"))
    call_command("outbox_dead_letters", "--shard", "shard_0", "--retry", stdout=StringIO())
    poison.refresh_from_db()
    assert poison.status == OutboxStatus.PENDING
    drained = StringIO()
    call_command("outbox_drain", "--shard", "shard_0", stdout=drained)
    assert "shard_0: published 1" in drained.getvalue()


def test_purge_drops_only_published_rows_past_the_retention(patient, fast_backoff, clean_bus):
    from apps.outbox.services import outbox_published_purge

    old_published, recent_published, waiting = (record("shard_0", patient.id, n=n) for n in range(3))
    clean_bus.set(stream_for("PoisonProbe"), "x")
    dead = record("shard_0", patient_in_bucket(8).id, event_type="PoisonProbe")
    OutboxEvent.objects.using("shard_0").filter(pk=waiting.pk).update(
        next_attempt_at=timezone.now() + timedelta(days=1)
    )
    for _ in range(3):
        outbox_relay_drain(shard_alias="shard_0")
    long_ago = timezone.now() - timedelta(days=30)
    OutboxEvent.objects.using("shard_0").filter(pk=old_published.pk).update(published_at=long_ago)
    OutboxEvent.objects.using("shard_0").filter(pk=dead.pk).update(created_at=long_ago)

    assert outbox_published_purge(using="shard_0", older_than=timedelta(days=7), chunk_size=1) == 1
    remaining = dict(OutboxEvent.objects.using("shard_0").values_list("id", "status"))
    assert remaining == {
        recent_published.id: OutboxStatus.PUBLISHED,
        waiting.id: OutboxStatus.PENDING,
        dead.id: OutboxStatus.DEAD,
    }
