"""The outbox keeps the history a projection rebuild promises: published rows stay at least
PIMLAB_OUTBOX_REPLAY_DAYS, and a retention shorter than that promise is refused at startup."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings
from django.utils import timezone

from apps.outbox.history import OccurredAt, outbox_envelope, outbox_envelope_json, outbox_history
from apps.outbox.models import OutboxEvent, OutboxStatus
from apps.outbox.retention import outbox_published_purge
from apps.projections.events import EVENT_TYPES
from tests.projections.conftest import synthetic_history
from tests.support.envelopes import outbox_record_envelopes

pytestmark = pytest.mark.django_db(databases="__all__")


@override_settings(PIMLAB_OUTBOX_RETENTION_DAYS=7, PIMLAB_OUTBOX_REPLAY_DAYS=90)
def test_a_retention_shorter_than_the_replay_promise_fails_the_system_check():
    with pytest.raises(SystemCheckError, match=r"outbox\.E001"):
        call_command("check")


@override_settings(PIMLAB_OUTBOX_RETENTION_DAYS=90, PIMLAB_OUTBOX_REPLAY_DAYS=90)
def test_a_retention_as_long_as_the_promise_passes_the_system_check():
    call_command("check")


@override_settings(PIMLAB_OUTBOX_RETENTION_DAYS=7, PIMLAB_OUTBOX_REPLAY_DAYS=90)
def test_the_purge_keeps_published_rows_the_rebuild_promises_to_replay():
    within, past = outbox_record_envelopes(synthetic_history(claims=1, seed=1)[:2])
    now = timezone.now()
    for row, age in ((within, timedelta(days=30)), (past, timedelta(days=91))):
        OutboxEvent.objects.using(row._state.db).filter(id=row.id).update(
            status=OutboxStatus.PUBLISHED, published_at=now - age
        )
    purged = sum(outbox_published_purge(using=alias) for alias in {within._state.db, past._state.db})
    assert purged == 1
    replayable = [envelope["event_id"] for _, batch in outbox_history(event_types=EVENT_TYPES) for envelope in batch]
    assert replayable == [str(within.id)]


def test_the_relay_encodes_the_very_envelope_the_history_replays():
    from django.db.models import TextField
    from django.db.models.functions import Cast

    from tests.outbox.recording import outbox_record

    event = outbox_record("shard_0", 4242)
    payload = {**event.payload, "note": 'Zoë said "ok" \\ 😀', "nested": {"b": [1, 2.5, None, True]}}
    headers = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "request_id": "r-1"}
    rows = OutboxEvent.objects.using("shard_0").filter(pk=event.pk)
    rows.update(payload=payload, headers=headers)
    fields = ("id", "aggregate_type", "aggregate_id", "event_type", "created_at")
    as_text = rows.annotate(
        payload_json=Cast("payload", TextField()), headers_json=Cast("headers", TextField()), occurred_at=OccurredAt()
    )
    text_fields = (*fields, "payload_json", "headers_json", "occurred_at")

    decoded = rows.values(*fields, "payload", "headers").get()
    encoded = outbox_envelope_json(as_text.values(*text_fields).get())
    assert json.loads(encoded) == outbox_envelope(decoded)
    assert json.loads(encoded)["payload"]["note"] == 'Zoë said "ok" \\ 😀'

    # isoformat() leaves out a zero fraction of a second; the database's formatting does too.
    rows.update(created_at=decoded["created_at"].replace(microsecond=0))
    decoded = rows.values(*fields, "payload", "headers").get()
    assert json.loads(outbox_envelope_json(as_text.values(*text_fields).get())) == outbox_envelope(decoded)
    rows.update(created_at=decoded["created_at"].replace(microsecond=120000))
    decoded = rows.values(*fields, "payload", "headers").get()
    assert json.loads(outbox_envelope_json(as_text.values(*text_fields).get())) == outbox_envelope(decoded)

    rows.update(headers={})
    empty = as_text.values(*text_fields).get()
    assert json.loads(outbox_envelope_json(empty))["headers"] == {}
