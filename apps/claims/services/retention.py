"""Retention: archive claims past their active window, purge archived claims past their retention
period. Policies are rows of ``RetentionPolicy``; each step is its own audited transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from django.db import transaction
from django.utils import timezone

from apps.audits.vocabulary import AuditAction, ResourceType
from apps.core.actors import Actor
from apps.core.resolver import shard_for_id
from apps.core.sharding import all_shards
from apps.outbox.changes import change_record
from apps.telemetry import context

from ..metrics import CLAIM_RETENTION_ACTIONS_TOTAL
from ..models import ArchivedClaim, Claim, RetentionPolicy
from ..selectors import archived_claims_due_for_purge, claims_due_for_archive

logger = structlog.get_logger(__name__)


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


def _policies() -> dict[str, RetentionPolicy]:
    return {policy.retention_class: policy for policy in RetentionPolicy.objects.using("default").all()}


def claim_archive(*, claim_id: int, now: datetime | None = None) -> ArchivedClaim | None:
    """Move one claim past its active window into archive storage (same shard, one transaction)."""
    now = now or timezone.now()
    alias = shard_for_id(claim_id)
    context.bind(shard_id=alias)
    policy = _policies().get(
        Claim.objects.using(alias).filter(pk=claim_id).values_list("retention_class", flat=True).first() or ""
    )
    actor = Actor.system("claims-retention")
    with transaction.atomic(using=alias):
        claim = Claim.objects.using(alias).select_for_update().filter(pk=claim_id).first()
        if claim is None or policy is None or claim.submitted_at + timedelta(days=policy.active_days) > now:
            return None
        line_items = [
            {
                "sequence": item.sequence,
                "procedure_code": item.procedure_code,
                "diagnosis_codes": item.diagnosis_codes,
                "units": item.units,
                "unit_price": str(item.unit_price),
                "line_total": str(item.line_total),
            }
            for item in claim.line_items.using(alias).order_by("sequence")
        ]
        archived = ArchivedClaim(
            claim_id=claim.id,
            patient_id=claim.patient_id,
            encounter_id=claim.encounter_id,
            payer_code=claim.payer_code,
            status=claim.status,
            currency=claim.currency,
            total_amount=claim.total_amount,
            paid_amount=claim.paid_amount,
            retention_class=claim.retention_class,
            submitted_by_user_id=claim.submitted_by_user_id,
            submitted_at=claim.submitted_at,
            paid_at=claim.paid_at,
            line_items=line_items,
            archived_at=now,
            purge_after=claim.submitted_at + timedelta(days=policy.retention_days),
        )
        archived.save(using=alias)
        claim.delete(using=alias)
        change_record(
            using=alias,
            patient_id=archived.patient_id,
            action=AuditAction.CLAIM_ARCHIVED,
            resource_type=ResourceType.CLAIM,
            resource_id=archived.claim_id,
            actor=actor,
            detail={"retention_class": policy.retention_class, "purge_after": archived.purge_after.isoformat()},
        )
    CLAIM_RETENTION_ACTIONS_TOTAL.labels(
        action="archived", retention_class=policy.retention_class, shard_id=alias
    ).inc()
    logger.info("claim_archived", claim_id=str(claim_id), retention_class=policy.retention_class)
    return archived


def archived_claim_purge(*, claim_id: int, now: datetime | None = None) -> bool:
    """Delete an archived claim whose retention period is over; the audit event outlives it."""
    now = now or timezone.now()
    alias = shard_for_id(claim_id)
    context.bind(shard_id=alias)
    with transaction.atomic(using=alias):
        archived = ArchivedClaim.objects.using(alias).select_for_update().filter(claim_id=claim_id).first()
        if archived is None or archived.purge_after > now:
            return False
        retention_class = archived.retention_class
        archived.delete(using=alias)
        change_record(
            using=alias,
            patient_id=archived.patient_id,
            action=AuditAction.CLAIM_PURGED,
            resource_type=ResourceType.CLAIM,
            resource_id=claim_id,
            actor=Actor.system("claims-retention"),
            detail={"retention_class": retention_class, "purge_after": archived.purge_after.isoformat()},
        )
    CLAIM_RETENTION_ACTIONS_TOTAL.labels(action="purged", retention_class=retention_class, shard_id=alias).inc()
    logger.info("claim_purged", claim_id=str(claim_id), retention_class=retention_class)
    return True
