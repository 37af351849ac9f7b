"""The retention sweep: archive claims past their active window, purge archived claims past their
retention period. Policies are rows of ``RetentionPolicy``; each step is its own audited transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from apps.core.sharding import all_shards

from .selectors import archived_claims_due_for_purge, claims_due_for_archive
from .services import archived_claim_purge, claim_archive


@dataclass
class RetentionSweepResult:
    archived: int = 0
    purged: int = 0


def claims_retention_sweep(*, now: datetime | None = None, batch_size: int = 500) -> RetentionSweepResult:
    now = now or timezone.now()
    result = RetentionSweepResult()
    for alias in all_shards():
        for claim_id in claims_due_for_archive(shard_alias=alias, now=now, limit=batch_size):
            result.archived += int(claim_archive(claim_id=claim_id, now=now) is not None)
        for claim_id in archived_claims_due_for_purge(shard_alias=alias, now=now, limit=batch_size):
            result.purged += int(archived_claim_purge(claim_id=claim_id, now=now))
    return result
