from __future__ import annotations

from apps.core.actors import Actor
from apps.telemetry import context

from .models import AuditEvent, AuditOutcome


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
    """Record an AUDIT_EVENT on ``using`` (the patient's shard), inside the caller's transaction."""
    correlation = context.current()
    return AuditEvent.objects.using(using).create(
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
