"""Outbox rows for relay tests: real event types with payloads their schemas accept."""

from __future__ import annotations

import itertools

from django.db import transaction
from django.utils import timezone

from apps.outbox.events import EventType
from apps.outbox.models import OutboxEvent
from apps.outbox.services import outbox_event_record

# The relay is type-agnostic: one type stands for "an event", another for "the event whose stream
# an operator broke" (tests turn its stream key into a plain string so XADD fails with WRONGTYPE).
RELAY_EVENT = EventType.ENCOUNTER_FINISHED
POISON_EVENT = EventType.CLAIM_PAID

_ids = itertools.count(1000)


def valid_payload(event_type: EventType, *, patient_id: int) -> dict:
    resource_id = str(next(_ids))
    now = timezone.now().isoformat()
    if event_type == EventType.ENCOUNTER_FINISHED:
        return {"encounter_id": resource_id, "patient_id": str(patient_id), "status": "finished"}
    if event_type == EventType.CLAIM_PAID:
        return {"claim_id": resource_id, "patient_id": str(patient_id), "paid_amount": "10.00", "paid_at": now}
    if event_type == EventType.ENCOUNTER_CREATED:
        return {
            "encounter_id": resource_id,
            "patient_id": str(patient_id),
            "encounter_type": "in_person",
            "requested_start": now,
            "status": "booked",
            "booked_by_user_id": "1",
            "booked_by_role": "patient",
        }
    raise ValueError(f"no test payload for {event_type}")


def outbox_record(alias: str, aggregate_id: int, event_type: EventType = RELAY_EVENT) -> OutboxEvent:
    with transaction.atomic(using=alias):
        return outbox_event_record(
            using=alias,
            event_type=event_type,
            aggregate_id=aggregate_id,
            payload=valid_payload(event_type, patient_id=aggregate_id),
        )
