"""The events the lab publishes: one enum of event types, one payload schema per type.

Producers (encounters, claims) record events through ``outbox_event_record``, which refuses a
type that is not an ``EventType`` or a payload its schema rejects, so a malformed event never
reaches the outbox, the bus or a consumer. Consumers name event types through the same enum.

Payloads carry ids, codes, amounts and timestamps only, all as JSON strings (ids are 64-bit and
would lose precision as JSON numbers in many clients); never names or free text.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, StrictInt, StringConstraints, ValidationError


class EventType(StrEnum):
    """Every event type; the value is the wire name (and names the bus stream)."""

    ENCOUNTER_CREATED = "EncounterCreated"
    ENCOUNTER_FINISHED = "EncounterFinished"
    CLAIM_SUBMITTED = "ClaimSubmitted"
    CLAIM_PAID = "ClaimPaid"


class AggregateType(StrEnum):
    """What an event's ``aggregate_id`` names. Every patient-owned change is ordered per patient."""

    PATIENT = "patient"


class EventSchemaViolation(ValueError):
    """An event was recorded with an unknown type or a payload its schema refuses: a producer bug."""


def _aware_iso_timestamp(value: str) -> str:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise ValueError("must carry a time zone")
    return value


def _decimal_amount(value: str) -> str:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError("must be a decimal amount") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError("must be a finite, non-negative amount")
    return value


Id = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,19}$")]
Code = Annotated[str, StringConstraints(min_length=1, max_length=40)]
Timestamp = Annotated[str, AfterValidator(_aware_iso_timestamp)]
Amount = Annotated[str, AfterValidator(_decimal_amount)]


class _Payload(BaseModel):
    # Unknown keys are refused: a field that is not in the schema is a field nobody reviewed.
    model_config = ConfigDict(extra="forbid", frozen=True)


class EncounterCreatedPayload(_Payload):
    encounter_id: Id
    patient_id: Id
    encounter_type: Code
    requested_start: Timestamp
    status: Literal["booked"]
    booked_by_user_id: Id
    booked_by_role: Code


class EncounterFinishedPayload(_Payload):
    encounter_id: Id
    patient_id: Id
    status: Literal["finished"]


class ClaimSubmittedPayload(_Payload):
    claim_id: Id
    patient_id: Id
    encounter_id: Id
    payer_code: Code
    status: Code
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    total_amount: Amount
    line_item_count: StrictInt
    retention_class: Code
    submitted_at: Timestamp


class ClaimPaidPayload(_Payload):
    claim_id: Id
    patient_id: Id
    paid_amount: Amount
    paid_at: Timestamp


PAYLOAD_SCHEMAS: dict[EventType, type[_Payload]] = {
    EventType.ENCOUNTER_CREATED: EncounterCreatedPayload,
    EventType.ENCOUNTER_FINISHED: EncounterFinishedPayload,
    EventType.CLAIM_SUBMITTED: ClaimSubmittedPayload,
    EventType.CLAIM_PAID: ClaimPaidPayload,
}


def event_type_parse(event_type: str) -> EventType:
    try:
        return EventType(event_type)
    except ValueError:
        raise EventSchemaViolation(f"unknown event type {event_type!r}") from None


def event_payload_validate(*, event_type: str, payload: dict) -> EventType:
    """Check ``payload`` against the schema of ``event_type``; raises ``EventSchemaViolation``."""
    known = event_type_parse(event_type)
    if not isinstance(payload, dict):
        raise EventSchemaViolation(f"{known} payload must be an object")
    try:
        PAYLOAD_SCHEMAS[known].model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'payload'}: {e['msg']}" for e in exc.errors())
        raise EventSchemaViolation(f"{known} payload breaks its schema: {problems}") from None
    return known
