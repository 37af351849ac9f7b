"""The one write primitive: a service says what changed, this records the AUDIT_EVENT and (when
the change is news for other parts of the system) the outbox event beside it, in the service's
own transaction on the patient's shard. The outbox row nudges its shard's relay on commit.

Zulip's actions write their audit row beside the change and send events on commit; Sentry's
outbox is keyed by shard and drained on commit. A service never assembles these rows itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connections

from apps.audits.models import AuditEvent, AuditOutcome
from apps.audits.services import audit_event_record
from apps.audits.vocabulary import AuditAction, ResourceType
from apps.core.actors import Actor
from apps.telemetry.participants import Participant
from apps.telemetry.spans import participant_span

from .events import EventType, event_payload_validate
from .models import OutboxEvent
from .services import outbox_event_record


class ChangeOutsideTransaction(RuntimeError):
    """A change was recorded outside a transaction on its shard: audit and event could diverge."""


@dataclass(frozen=True)
class RecordedChange:
    audit_event: AuditEvent
    outbox_event: OutboxEvent | None


def change_record(
    *,
    using: str,
    actor: Actor,
    patient_id: int,
    action: AuditAction,
    resource_type: ResourceType,
    resource_id: str | int = "",
    detail: dict | None = None,
    outcome: str = AuditOutcome.SUCCESS,
    event_type: EventType | None = None,
    payload: dict | None = None,
) -> RecordedChange:
    """Record the audit event of a change (and its outbox event, given ``event_type`` + ``payload``).

    Must run inside ``transaction.atomic(using=using)``: the change, its audit event and its outbox
    event commit together or not at all. A payload that breaks its event's schema raises
    ``EventSchemaViolation`` before anything is written."""
    if not connections[using].in_atomic_block:
        raise ChangeOutsideTransaction(f"record {action} inside transaction.atomic(using={using!r})")
    if (event_type is None) != (payload is None):
        raise ValueError("give both event_type and payload, or neither")
    if event_type is not None:
        # Checked before the audit row: a bad payload is refused before anything is written.
        event_payload_validate(event_type=event_type, payload=payload)
    audit_event = audit_event_record(
        using=using,
        patient_id=patient_id,
        action=AuditAction(action).value,
        resource_type=ResourceType(resource_type).value,
        resource_id=resource_id,
        actor=actor,
        outcome=outcome,
        detail=detail,
    )
    outbox_event = None
    if event_type is not None:
        with participant_span(Participant.OUTBOX_WRITER, event_type=str(event_type)):
            outbox_event = outbox_event_record(
                using=using, event_type=event_type, aggregate_id=patient_id, payload=payload or {}
            )
    return RecordedChange(audit_event=audit_event, outbox_event=outbox_event)
