"""Bus envelopes for tests that publish events themselves, in the relay's envelope shape."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.core.ids import BUCKET_COUNT, new_id
from apps.core.resolver import shard_for_id
from apps.outbox.eventbus import get_event_bus
from apps.outbox.events import AggregateType, EventType
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


def outbox_record_envelopes(envelopes: list[dict], *, status: str = OutboxStatus.PENDING) -> list[OutboxEvent]:
    """Record envelopes as outbox rows, in order, each on the shard of its patient and committed at its
    ``occurred_at``, as the services would have. Small synthetic patient ids are mapped to sharded ids
    (spread over the buckets, hence over every shard); the payload keeps its ``patient_id`` in step."""
    patients: dict[str, int] = {}
    rows = []
    for envelope in envelopes:
        synthetic = str(envelope["aggregate_id"])
        patient_id = patients.setdefault(synthetic, new_id((int(synthetic) * 7919) % BUCKET_COUNT))
        payload = dict(envelope["payload"])
        if "patient_id" in payload:
            payload["patient_id"] = str(patient_id)
        alias = shard_for_id(patient_id)
        with transaction.atomic(using=alias):
            row = OutboxEvent.objects.using(alias).create(
                aggregate_type=envelope["aggregate_type"],
                aggregate_id=patient_id,
                event_type=envelope["event_type"],
                payload=payload,
                headers=envelope.get("headers") or {},
                status=status,
            )
            committed_at = parse_datetime(envelope["occurred_at"])
            OutboxEvent.objects.using(alias).filter(id=row.id).update(created_at=committed_at)
            row.created_at = committed_at
        rows.append(row)
    return rows


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
        "event_type": EventType.ENCOUNTER_CREATED.value,
        "aggregate_type": AggregateType.PATIENT.value,
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
        "event_type": EventType.CLAIM_SUBMITTED.value,
        "aggregate_type": AggregateType.PATIENT.value,
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
        "event_type": EventType.CLAIM_PAID.value,
        "aggregate_type": AggregateType.PATIENT.value,
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
