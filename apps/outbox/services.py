"""Writes of the outbox: recording an event (validated, nudged on commit) and retrying dead letters."""

from __future__ import annotations

import structlog
from django.db import transaction
from opentelemetry import propagate

from apps.core.actors import Actor
from apps.telemetry import context

from .events import AggregateType, event_payload_validate
from .metrics import OUTBOX_DEAD_LETTER_DISCARDS_TOTAL, OUTBOX_DEAD_LETTER_RETRIES_TOTAL
from .models import OutboxEvent, OutboxStatus
from .tasks import outbox_relay_nudge, outbox_relay_nudge_on_commit

logger = structlog.get_logger(__name__)


def outbox_event_record(
    *,
    using: str,
    event_type: str,
    aggregate_id: int,
    payload: dict,
    aggregate_type: AggregateType = AggregateType.PATIENT,
) -> OutboxEvent:
    """Record an event on ``using`` (the aggregate's shard), inside the caller's transaction, and
    nudge that shard's relay once the transaction commits (so no producer can forget it).

    ``event_type`` must be an ``EventType`` and ``payload`` must pass its schema, otherwise
    ``EventSchemaViolation`` is raised before anything is written. The W3C trace context is stored
    with the row so the relay's publish span can link to the request that caused it."""
    known = event_payload_validate(event_type=event_type, payload=payload)
    headers: dict[str, str] = {}
    propagate.inject(headers)
    correlation = context.current()
    headers.update({k: str(v) for k, v in correlation.items() if v is not None})
    event = OutboxEvent.objects.using(using).create(
        aggregate_type=AggregateType(aggregate_type).value,
        aggregate_id=aggregate_id,
        event_type=known.value,
        payload=payload,
        headers=headers,
    )
    outbox_relay_nudge_on_commit(using=using)
    return event


def outbox_dead_letters_retry(*, using: str, event_ids: list[int], actor: Actor) -> int:
    """Send dead letters (or stuck pending rows) of shard ``using`` back to the relay, attempts reset.

    Returns how many rows were requeued; published rows are never touched."""
    with transaction.atomic(using=using):
        requeued = (
            OutboxEvent.objects.using(using)
            .filter(id__in=event_ids, status__in=[OutboxStatus.DEAD, OutboxStatus.PENDING])
            .update(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=None)
        )
    OUTBOX_DEAD_LETTER_RETRIES_TOTAL.labels(shard_id=using).inc(requeued)
    logger.info(
        "outbox_dead_letters_requeued",
        shard_id=using,
        requeued=requeued,
        event_ids=[str(i) for i in event_ids][:50],
        operator_user_id=actor.user_id,
    )
    outbox_relay_nudge(shard_alias=using)
    return requeued


def outbox_dead_letters_discard(*, using: str, event_ids: list[int], actor: Actor) -> int:
    """Give up on dead letters of shard ``using``: they become DISCARDED, stay for the record, and stop
    holding back the later events of their patient (the relay publishes those next).

    Only dead letters are discarded; each discard is audited on the patient's shard with the operator.
    Returns how many rows were discarded."""
    from apps.audits.services import audit_event_record
    from apps.audits.vocabulary import AuditAction, ResourceType

    with transaction.atomic(using=using):
        dead = list(
            OutboxEvent.objects.using(using)
            .select_for_update()
            .filter(id__in=event_ids, status=OutboxStatus.DEAD)
            .values("id", "aggregate_id", "event_type", "attempts")
        )
        OutboxEvent.objects.using(using).filter(id__in=[row["id"] for row in dead]).update(
            status=OutboxStatus.DISCARDED, next_attempt_at=None
        )
        for row in dead:
            audit_event_record(
                using=using,
                patient_id=row["aggregate_id"],
                action=AuditAction.OUTBOX_EVENT_DISCARDED,
                resource_type=ResourceType.OUTBOX_EVENT,
                resource_id=row["id"],
                actor=actor,
                detail={"event_type": row["event_type"], "attempts": row["attempts"]},
            )
    OUTBOX_DEAD_LETTER_DISCARDS_TOTAL.labels(shard_id=using).inc(len(dead))
    logger.warning(
        "outbox_dead_letters_discarded",
        shard_id=using,
        discarded=len(dead),
        event_ids=[str(row["id"]) for row in dead][:50],
        operator_user_id=actor.user_id,
    )
    if dead:
        outbox_relay_nudge(shard_alias=using)
    return len(dead)
