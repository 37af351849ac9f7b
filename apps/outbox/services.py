from __future__ import annotations

from opentelemetry import propagate

from apps.telemetry import context

from .models import OutboxEvent


def outbox_event_record(
    *, using: str, aggregate_type: str, aggregate_id: int, event_type: str, payload: dict
) -> OutboxEvent:
    """Record an event on ``using`` (the aggregate's shard), inside the caller's transaction.

    The W3C trace context is stored with the row so the relay's publish span can link to the
    request that caused it."""
    headers: dict[str, str] = {}
    propagate.inject(headers)
    correlation = context.current()
    headers.update({k: str(v) for k, v in correlation.items() if v is not None})
    return OutboxEvent.objects.using(using).create(
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        event_type=event_type,
        payload=payload,
        headers=headers,
    )
