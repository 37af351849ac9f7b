"""How long published outbox rows are kept, and the purge that enforces it.

Published rows are the history a projection rebuild replays (``apps.outbox.history``), so the
retention may never be shorter than the replay promise ``PIMLAB_OUTBOX_REPLAY_DAYS``: the system check
``outbox.E001`` refuses such a configuration, and the purge keeps the longer of the two anyway."""

from __future__ import annotations

from datetime import timedelta

import structlog
from django.conf import settings
from django.core import checks
from django.db import transaction
from django.utils import timezone

from .models import OutboxEvent, OutboxStatus

logger = structlog.get_logger(__name__)


def outbox_replay_promise() -> timedelta:
    """How far back a rebuild from the outbox is promised to reach."""
    return timedelta(days=float(settings.PIMLAB_OUTBOX_REPLAY_DAYS))


def outbox_retention() -> timedelta:
    """How long published rows are kept: the setting, never less than the replay promise."""
    return max(timedelta(days=float(settings.PIMLAB_OUTBOX_RETENTION_DAYS)), outbox_replay_promise())


@checks.register()
def outbox_retention_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    retention, promise = float(settings.PIMLAB_OUTBOX_RETENTION_DAYS), float(settings.PIMLAB_OUTBOX_REPLAY_DAYS)
    if retention >= promise:
        return []
    return [
        checks.Error(
            f"PIMLAB_OUTBOX_RETENTION_DAYS ({retention:g}) is shorter than PIMLAB_OUTBOX_REPLAY_DAYS ({promise:g}): "
            "the purge would delete outbox history that projections_rebuild promises to replay.",
            hint="Raise PIMLAB_OUTBOX_RETENTION_DAYS to at least PIMLAB_OUTBOX_REPLAY_DAYS (runbook 18).",
            id="outbox.E001",
        )
    ]


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
