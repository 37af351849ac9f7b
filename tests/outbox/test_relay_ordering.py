"""Per-patient order holds through failures: a failed or dead-lettered event keeps every later event
of the same patient off the bus until it is retried, and a failure inside a pipelined batch never lets
a later event of that patient reach the bus first."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings as django_settings

from apps.outbox.eventbus import get_event_bus, reset_event_bus, stream_for
from apps.outbox.events import EventType
from apps.outbox.models import OutboxEvent, OutboxStatus
from apps.outbox.relay import outbox_relay_drain, publish_waves
from apps.telemetry.tracing import span_store
from tests.encounters.conftest import patient_in_bucket
from tests.outbox.recording import POISON_EVENT, RELAY_EVENT, outbox_record

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


def record(aggregate_id: int, event_type: EventType = RELAY_EVENT) -> OutboxEvent:
    return outbox_record("shard_0", aggregate_id, event_type)


def on_bus(event_type: str) -> list[str]:
    return [m.event["event_id"] for m in get_event_bus().read_range(stream_for(event_type))]


def test_waves_hold_the_k_th_event_of_each_aggregate():
    rows = [{"aggregate_id": a} for a in (1, 2, 1, 3, 1, 2)]
    assert publish_waves(rows) == [[0, 1, 3], [2, 5], [4]]


def test_a_batch_goes_to_redis_in_one_round_trip_however_many_events_a_patient_has(bus):
    patient, neighbour = patient_in_bucket(5), patient_in_bucket(6)
    events = [record(patient.id), record(neighbour.id), record(patient.id), record(patient.id)]
    span_store.clear()

    assert outbox_relay_drain(shard_alias="shard_0") == 4
    # In id order (ids of one millisecond sort by bucket, so two patients may interleave otherwise
    # than they were recorded); each patient's events in the order they were recorded.
    sent = on_bus(RELAY_EVENT)
    assert sent == [str(event.id) for event in sorted(events, key=lambda event: event.id)]
    patients_events = [str(events[index].id) for index in (0, 2, 3)]
    assert [event_id for event_id in sent if event_id in patients_events] == patients_events
    publish = [s for s in span_store.spans() if s.name == "Event Bus"]
    assert len(publish) == 1 and publish[0].attributes["messaging.batch.message_count"] == 4


def test_a_failure_mid_batch_never_puts_a_later_event_of_that_patient_on_the_bus_first(bus):
    patient, neighbour = patient_in_bucket(5), patient_in_bucket(6)
    bus.set(stream_for(POISON_EVENT), "not a stream")  # XADD to this key fails: WRONGTYPE
    record(patient.id, POISON_EVENT)
    later = record(patient.id)
    other = record(neighbour.id)

    assert outbox_relay_drain(shard_alias="shard_0") == 1
    assert on_bus(RELAY_EVENT) == [str(other.id)]  # `later` was never sent
    later.refresh_from_db()
    assert (later.status, later.attempts) == (OutboxStatus.PENDING, 0)


def test_a_dead_letter_holds_back_its_patient_until_an_operator_retries_it(bus):
    patient = patient_in_bucket(5)
    bus.set(stream_for(POISON_EVENT), "not a stream")
    poison = record(patient.id, POISON_EVENT)
    later = record(patient.id)

    for _ in range(5):
        assert outbox_relay_drain(shard_alias="shard_0") == 0
    poison.refresh_from_db()
    later.refresh_from_db()
    assert poison.status == OutboxStatus.DEAD
    assert later.status == OutboxStatus.PENDING and on_bus(RELAY_EVENT) == []

    bus.delete(stream_for(POISON_EVENT))  # the operator fixed the cause and retries the dead letter
    OutboxEvent.objects.using("shard_0").filter(pk=poison.pk).update(status=OutboxStatus.PENDING, attempts=0)
    assert outbox_relay_drain(shard_alias="shard_0") == 2
    assert on_bus(POISON_EVENT) == [str(poison.id)] and on_bus(RELAY_EVENT) == [str(later.id)]


def test_the_admin_shows_what_a_dead_letter_holds_back_and_discarding_it_releases_them(bus, admin_client):
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    from apps.audits.models import AuditEvent

    patient, neighbour = patient_in_bucket(5), patient_in_bucket(6)
    bus.set(stream_for(POISON_EVENT), "not a stream")  # XADD to this key fails: WRONGTYPE
    poison = record(patient.id, POISON_EVENT)
    later = [record(patient.id) for _ in range(3)]
    other_poison = record(neighbour.id, POISON_EVENT)
    for _ in range(4):
        outbox_relay_drain(shard_alias="shard_0")
    poison.refresh_from_db()
    assert poison.status == OutboxStatus.DEAD and on_bus(RELAY_EVENT) == []

    with CaptureQueriesContext(connections["shard_0"]) as shard_queries:
        page = admin_client.get("/admin/outbox/outboxevent/?shard=shard_0&status__exact=dead")
    html = page.content.decode()
    assert page.status_code == 200 and "3 later event(s)" in html and "0 later event(s)" in html
    assert "Discard selected dead letters" in html
    # The count comes with the list query, not one query per row.
    row_queries = [
        q["sql"] for q in shard_queries.captured_queries if q["sql"].startswith('SELECT "outbox_outboxevent"."id"')
    ]
    assert len(row_queries) == 1 and "COUNT(" in row_queries[0]
    # Two page counts, the rows, two filter lists: nothing per row.
    assert sum("outbox_outboxevent" in q["sql"] for q in shard_queries.captured_queries) <= 5

    response = admin_client.post(
        "/admin/outbox/outboxevent/?shard=shard_0",
        {"action": "discard_selected", "_selected_action": [str(poison.id)]},
    )
    assert response.status_code == 302
    poison.refresh_from_db()
    assert poison.status == OutboxStatus.DISCARDED
    audit = AuditEvent.objects.using("shard_0").get(action="outbox_event.discarded", resource_id=str(poison.id))
    assert audit.patient_id == patient.id and audit.actor_user_id is not None

    assert outbox_relay_drain(shard_alias="shard_0") == 3
    assert on_bus(RELAY_EVENT) == [str(event.id) for event in later]
    attempts = poison.attempts
    poison.refresh_from_db()
    assert (poison.status, poison.attempts) == (OutboxStatus.DISCARDED, attempts)  # the relay left it alone
    other_poison.refresh_from_db()
    assert other_poison.status == OutboxStatus.DEAD  # only the selected dead letter was discarded


def test_the_dead_letters_command_discards_one_dead_letter_and_its_patient_moves_on(bus):
    from io import StringIO

    from django.core.management import call_command

    patient = patient_in_bucket(5)
    bus.set(stream_for(POISON_EVENT), "not a stream")
    poison = record(patient.id, POISON_EVENT)
    later = record(patient.id)
    for _ in range(4):
        outbox_relay_drain(shard_alias="shard_0")
    out = StringIO()
    call_command("outbox_dead_letters", shard=["shard_0"], discard=True, ids=[poison.id], stdout=out)
    assert "discarded 1" in out.getvalue()
    assert outbox_relay_drain(shard_alias="shard_0") == 1
    assert on_bus(RELAY_EVENT) == [str(later.id)]
