"""Bus envelopes for tests that publish events themselves, in the relay's envelope shape."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from apps.outbox.eventbus import get_event_bus
from apps.outbox.models import OutboxEvent, OutboxStatus

_ids = itertools.count(1)


def envelope_from_outbox(row: OutboxEvent) -> dict:
    return {
        "event_id": str(row.id),
        "event_type": row.event_type,
        "aggregate_type": row.aggregate_type,
        "aggregate_id": str(row.aggregate_id),
        "occurred_at": row.created_at.isoformat(),
        "payload": row.payload,
        "headers": row.headers,
    }


def publish_pending_outbox(*, using: str, event_types: tuple[str, ...] | None = None) -> list[dict]:
    """Publish a shard's pending outbox rows as the relay would (rows are left as they are)."""
    rows = OutboxEvent.objects.using(using).filter(status=OutboxStatus.PENDING).order_by("id")
    if event_types:
        rows = rows.filter(event_type__in=event_types)
    envelopes = [envelope_from_outbox(row) for row in rows]
    if envelopes:
        get_event_bus().publish_batch(envelopes)
    return envelopes


def encounter_created(
    *,
    encounter_id: int,
    patient_id: int,
    requested_start: datetime,
    occurred_at: datetime | None = None,
    encounter_type: str = "in_person",
    event_id: str | None = None,
    headers: dict | None = None,
) -> dict:
    return {
        "event_id": event_id or f"enc-{next(_ids)}-{uuid.uuid4().hex[:8]}",
        "event_type": "EncounterCreated",
        "aggregate_type": "patient",
        "aggregate_id": str(patient_id),
        "occurred_at": (occurred_at or timezone.now()).isoformat(),
        "payload": {
            "encounter_id": str(encounter_id),
            "patient_id": str(patient_id),
            "encounter_type": encounter_type,
            "requested_start": requested_start.isoformat(),
            "status": "booked",
        },
        "headers": headers or {},
    }


def claim_submitted(
    *,
    claim_id: int,
    encounter_id: int,
    payer_code: str,
    total_amount: Decimal | str,
    submitted_at: datetime,
    patient_id: int = 1,
    event_id: str | None = None,
    headers: dict | None = None,
) -> dict:
    return {
        "event_id": event_id or f"clm-{next(_ids)}-{uuid.uuid4().hex[:8]}",
        "event_type": "ClaimSubmitted",
        "aggregate_type": "patient",
        "aggregate_id": str(patient_id),
        "occurred_at": submitted_at.isoformat(),
        "payload": {
            "claim_id": str(claim_id),
            "patient_id": str(patient_id),
            "encounter_id": str(encounter_id),
            "payer_code": payer_code,
            "status": "submitted",
            "currency": "USD",
            "total_amount": str(total_amount),
            "line_item_count": 1,
            "retention_class": "standard",
            "submitted_at": submitted_at.isoformat(),
        },
        "headers": headers or {},
    }


def claim_paid(
    *, claim_id: int, paid_amount: Decimal | str, paid_at: datetime, patient_id: int = 1, event_id: str | None = None
) -> dict:
    return {
        "event_id": event_id or f"pay-{next(_ids)}-{uuid.uuid4().hex[:8]}",
        "event_type": "ClaimPaid",
        "aggregate_type": "patient",
        "aggregate_id": str(patient_id),
        "occurred_at": paid_at.isoformat(),
        "payload": {
            "claim_id": str(claim_id),
            "patient_id": str(patient_id),
            "paid_amount": str(paid_amount),
            "paid_at": paid_at.isoformat(),
        },
        "headers": {},
    }
