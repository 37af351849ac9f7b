"""How long published outbox rows are kept, and the purge that enforces it."""

from __future__ import annotations

from datetime import timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import OutboxEvent, OutboxStatus

logger = structlog.get_logger(__name__)


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
