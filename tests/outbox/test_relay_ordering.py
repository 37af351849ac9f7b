"""Per-patient order holds through failures: a failed or dead-lettered event keeps every later event
of the same patient off the bus until it is retried, and a failure inside a pipelined batch never lets
a later event of that patient reach the bus first."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings as django_settings
from django.db import transaction

from apps.outbox.eventbus import get_event_bus, reset_event_bus, stream_for
from apps.outbox.models import OutboxEvent, OutboxStatus
from apps.outbox.relay import outbox_relay_drain, publish_waves
from apps.outbox.services import outbox_event_record
from tests.encounters.conftest import patient_in_bucket

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture(autouse=True)
def bus():
    reset_event_bus()
    client = redis.Redis.from_url(django_settings.PIMLAB_EVENTBUS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    reset_event_bus()


@pytest.fixture(autouse=True)
def fast_backoff(settings):
    settings.PIMLAB_OUTBOX_BACKOFF_BASE_SECONDS = 0.0
    settings.PIMLAB_OUTBOX_MAX_ATTEMPTS = 3


def record(aggregate_id: int, event_type: str = "TestHappened") -> OutboxEvent:
    with transaction.atomic(using="shard_0"):
        return outbox_event_record(
            using="shard_0", aggregate_type="patient", aggregate_id=aggregate_id, event_type=event_type, payload={}
        )


def on_bus(event_type: str) -> list[str]:
    return [m.event["event_id"] for m in get_event_bus().read_range(stream_for(event_type))]


def test_waves_hold_the_k_th_event_of_each_aggregate():
    rows = [{"aggregate_id": a} for a in (1, 2, 1, 3, 1, 2)]
    assert publish_waves(rows) == [[0, 1, 3], [2, 5], [4]]


def test_a_failure_mid_batch_never_puts_a_later_event_of_that_patient_on_the_bus_first(bus):
    patient, neighbour = patient_in_bucket(5), patient_in_bucket(6)
    bus.set(stream_for("PoisonProbe"), "not a stream")  # XADD to this key fails: WRONGTYPE
    record(patient.id, "PoisonProbe")
    later = record(patient.id)
    other = record(neighbour.id)

    assert outbox_relay_drain(shard_alias="shard_0") == 1
    assert on_bus("TestHappened") == [str(other.id)]  # `later` was never sent
    later.refresh_from_db()
    assert (later.status, later.attempts) == (OutboxStatus.PENDING, 0)


def test_a_dead_letter_holds_back_its_patient_until_an_operator_retries_it(bus):
    patient = patient_in_bucket(5)
    bus.set(stream_for("PoisonProbe"), "not a stream")
    poison = record(patient.id, "PoisonProbe")
    later = record(patient.id)

    for _ in range(5):
        assert outbox_relay_drain(shard_alias="shard_0") == 0
    poison.refresh_from_db()
    later.refresh_from_db()
    assert poison.status == OutboxStatus.DEAD
    assert later.status == OutboxStatus.PENDING and on_bus("TestHappened") == []

    bus.delete(stream_for("PoisonProbe"))  # the operator fixed the cause and retries the dead letter
    OutboxEvent.objects.using("shard_0").filter(pk=poison.pk).update(status=OutboxStatus.PENDING, attempts=0)
    assert outbox_relay_drain(shard_alias="shard_0") == 2
    assert on_bus("PoisonProbe") == [str(poison.id)] and on_bus("TestHappened") == [str(later.id)]
