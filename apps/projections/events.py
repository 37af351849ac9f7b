"""The events the financial projection consumes, parsed from bus envelopes into typed records.

A malformed envelope raises ``MalformedEvent`` here, before any database work, so it can be
dead-lettered without blocking the events around it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.utils.dateparse import parse_datetime

from apps.outbox.bus_contract import stream_for
from apps.outbox.events import EventType

PROJECTION_NAME = "financial"
CONSUMER_GROUP = "projections-financial"
# The event types this projection consumes (see ``apps.outbox.events`` for their schemas).
EVENT_TYPES = (EventType.ENCOUNTER_CREATED, EventType.CLAIM_SUBMITTED, EventType.CLAIM_PAID)
STREAMS = tuple(stream_for(event_type) for event_type in EVENT_TYPES)
DEAD_LETTER_STREAM = "pimlab:dlq:projections-financial"


class MalformedEvent(ValueError):
    pass


@dataclass(frozen=True)
class ProjectedEvent:
    event_id: str
    event_type: str
    occurred_at: datetime
    payload: dict
    headers: dict

    @property
    def claim_id(self) -> int:
        return int(self.payload["claim_id"])

    @property
    def encounter_id(self) -> int:
        return int(self.payload["encounter_id"])


def _datetime(value, name: str) -> datetime:
    try:
        # The outbox writes isoformat(); the regular-expression fallback is for anything else ISO 8601.
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None or parsed.tzinfo is None:
        raise MalformedEvent(f"{name} must be an ISO 8601 timestamp with a time zone, got {value!r}")
    return parsed


def _decimal(value, name: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise MalformedEvent(f"{name} must be a decimal amount, got {value!r}") from None
    if not amount.is_finite():
        raise MalformedEvent(f"{name} must be finite")
    return amount


def _id(payload: dict, name: str) -> int:
    try:
        value = int(payload[name])
    except (KeyError, TypeError, ValueError):
        raise MalformedEvent(f"payload.{name} must be a numeric id") from None
    if value <= 0:
        raise MalformedEvent(f"payload.{name} must be positive")
    return value


def parse_envelope(envelope: dict) -> ProjectedEvent:
    if not isinstance(envelope, dict):
        raise MalformedEvent("envelope is not an object")
    event_type = envelope.get("event_type")
    if event_type not in EVENT_TYPES:
        raise MalformedEvent(f"unexpected event_type {event_type!r}")
    event_id = str(envelope.get("event_id") or "")
    if not event_id or len(event_id) > 64:
        raise MalformedEvent("event_id is missing or longer than 64 characters")
    payload = envelope.get("payload")
    if not isinstance(payload, dict):
        raise MalformedEvent("payload is not an object")
    occurred_at = _datetime(envelope.get("occurred_at"), "occurred_at")
    clean: dict
    if event_type == EventType.ENCOUNTER_CREATED:
        clean = {
            "encounter_id": _id(payload, "encounter_id"),
            "patient_id": _id(payload, "patient_id"),
            "encounter_type": str(payload.get("encounter_type") or "")[:20],
            "requested_start": _datetime(payload.get("requested_start"), "payload.requested_start"),
        }
    elif event_type == EventType.CLAIM_SUBMITTED:
        clean = {
            "claim_id": _id(payload, "claim_id"),
            "encounter_id": _id(payload, "encounter_id"),
            "payer_code": str(payload.get("payer_code") or "")[:40],
            "currency": str(payload.get("currency") or "")[:3],
            "total_amount": _decimal(payload.get("total_amount"), "payload.total_amount"),
            "submitted_at": _datetime(payload.get("submitted_at"), "payload.submitted_at"),
        }
        if not clean["payer_code"]:
            raise MalformedEvent("payload.payer_code is missing")
    else:
        clean = {
            "claim_id": _id(payload, "claim_id"),
            "paid_amount": _decimal(payload.get("paid_amount"), "payload.paid_amount"),
            "paid_at": _datetime(payload.get("paid_at"), "payload.paid_at"),
        }
    headers = envelope.get("headers") if isinstance(envelope.get("headers"), dict) else {}
    return ProjectedEvent(
        event_id=event_id, event_type=EventType(event_type), occurred_at=occurred_at, payload=clean, headers=headers
    )
