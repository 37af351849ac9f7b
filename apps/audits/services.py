from __future__ import annotations

import time

import structlog
from django.conf import settings
from django.db import transaction

from apps.core.actors import Actor
from apps.telemetry import context
from apps.telemetry.participants import Participant
from apps.telemetry.tracing import tracer

from .metrics import (
    AUDIT_EVENT_WRITE_TOTAL,
    AUDIT_WRITE_LATENCY_SECONDS,
    AUDIT_WRITE_LATENCY_THRESHOLD_EXCEEDED_TOTAL,
)
from .models import AuditEvent, AuditOutcome

logger = structlog.get_logger(__name__)

AUDIT_LOGGER_SPAN = Participant.AUDIT_LOGGER


def audit_event_record(
    *,
    using: str,
    patient_id: int,
    action: str,
    resource_type: str,
    actor: Actor,
    resource_id: str | int = "",
    outcome: str = AuditOutcome.SUCCESS,
    detail: dict | None = None,
) -> AuditEvent:
    """Record an AUDIT_EVENT on ``using`` (the patient's shard), inside the caller's transaction.

    The shipper later copies it, in order, into the audit store's hash chain; this function never
    touches the audit store, so an audit-store outage never blocks a request.
    """
    correlation = context.current()
    span_labels = {name: str(value) for name, value in correlation.items() if value is not None}
    span_labels.update({"shard_id": using, "audit.action": action, "audit.outcome": str(outcome)})
    with tracer().start_as_current_span(AUDIT_LOGGER_SPAN, attributes=span_labels):
        started = time.perf_counter()
        event = AuditEvent.objects.using(using).create(
            patient_id=patient_id,
            action=action,
            outcome=outcome,
            resource_type=resource_type,
            resource_id=str(resource_id),
            actor_user_id=actor.user_id,
            actor_role=actor.role,
            request_id=correlation["request_id"] or "",
            trace_id=correlation["trace_id"] or "",
            detail=detail or {},
        )
        audit_write_latency_observe(stage="shard", shard_id=using, seconds=time.perf_counter() - started)
    AUDIT_EVENT_WRITE_TOTAL.labels(shard_id=using, outcome=str(outcome), actor_role=actor.role).inc()
    return event


def audit_write_latency_observe(*, stage: str, shard_id: str, seconds: float) -> None:
    AUDIT_WRITE_LATENCY_SECONDS.labels(stage=stage, shard_id=shard_id).observe(seconds)
    threshold = settings.PIMLAB_AUDIT_WRITE_LATENCY_THRESHOLD_SECONDS
    if seconds > threshold:
        AUDIT_WRITE_LATENCY_THRESHOLD_EXCEEDED_TOTAL.labels(stage=stage, shard_id=shard_id).inc()
        logger.warning(
            "audit_write_latency_above_threshold",
            stage=stage,
            shard_id=shard_id,
            seconds=round(seconds, 4),
            threshold_seconds=threshold,
            requirement="NFR-09",
        )


def audit_access_record(
    *,
    using: str,
    patient_id: int,
    action: str,
    resource_type: str,
    actor: Actor,
    purpose: str,
    resource_id: str | int = "",
    outcome: str = AuditOutcome.SUCCESS,
    detail: dict | None = None,
) -> AuditEvent:
    """Audit a read of PHI, or a refused read, in its own transaction on the patient's shard
    (HIPAA 164.312(b)): who, in which role, read what, for which purpose (treatment, payment,
    operations, patient access, break-glass)."""
    with transaction.atomic(using=using):
        return audit_event_record(
            using=using,
            patient_id=patient_id,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            actor=actor,
            outcome=outcome,
            detail={"purpose": purpose, **(detail or {})},
        )


def audit_page_record(
    *, rows: list, action: str, resource_type: str, actor: Actor, purpose: str, page: int, detail: dict | None = None
) -> None:
    """Audit one shown page of PHI rows (sharded model instances): one event per shard the page spans
    (an event lives on its patients' shard), naming the patients on it, not one per row. An empty
    page shows no PHI and writes nothing."""
    by_shard: dict[str, list] = {}
    for row in rows:
        by_shard.setdefault(row._state.db, []).append(row)
    for alias, shard_rows in by_shard.items():
        audit_access_record(
            using=alias,
            patient_id=shard_rows[0].patient_id,
            action=action,
            resource_type=resource_type,
            actor=actor,
            purpose=purpose,
            detail={
                **(detail or {}),
                "page": page,
                "rows": len(shard_rows),
                "patient_ids": sorted({str(row.patient_id) for row in shard_rows}),
            },
        )
