from __future__ import annotations

from datetime import timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from opentelemetry import propagate

from apps.core.actors import Actor
from apps.telemetry import context

from .metrics import OUTBOX_DEAD_LETTER_RETRIES_TOTAL
from .models import OutboxEvent, OutboxStatus

logger = structlog.get_logger(__name__)


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
    from .tasks import outbox_relay_nudge

    outbox_relay_nudge(shard_alias=using)
    return requeued


def outbox_retention() -> timedelta:
    return timedelta(days=float(settings.PIMLAB_OUTBOX_RETENTION_DAYS))


def outbox_published_purge(*, using: str, older_than: timedelta | None = None, chunk_size: int = 5000) -> int:
    """Delete published rows of shard ``using`` older than the retention, in short chunks.

    Only published rows go: pending rows and dead letters stay until delivered or retried."""
    cutoff = timezone.now() - (older_than if older_than is not None else outbox_retention())
    deleted_total = 0
    while True:
        with transaction.atomic(using=using):
            chunk = list(
                OutboxEvent.objects.using(using)
                .filter(status=OutboxStatus.PUBLISHED, published_at__lt=cutoff)
                .order_by("id")
                .values_list("id", flat=True)[:chunk_size]
            )
            if not chunk:
                break
            deleted, _ = OutboxEvent.objects.using(using).filter(id__in=chunk).delete()
        deleted_total += deleted
    if deleted_total:
        logger.info("outbox_published_purged", shard_id=using, deleted=deleted_total, cutoff=cutoff.isoformat())
    return deleted_total
