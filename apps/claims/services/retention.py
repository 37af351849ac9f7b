"""Retention: archive paid claims past their active window, purge archived claims past their
retention period. Policies are rows of ``RetentionPolicy`` (never below the configured floor); a
legal hold stops both steps; purge follows the current policy. Each step is its own audited
transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.audits.vocabulary import AuditAction, ResourceType
from apps.core.actors import Actor
from apps.core.errors import InvalidInput
from apps.core.resolver import shard_for_id
from apps.core.sharding import all_shards
from apps.outbox.changes import change_record
from apps.telemetry import context

from ..errors import ClaimNotFound, LegalHoldConflict, RetentionBelowFloor, UnknownRetentionClass
from ..metrics import CLAIM_RETENTION_ACTIONS_TOTAL
from ..models import ArchivedClaim, Claim, ClaimStatus, LegalHold, RetentionPolicy, retention_floor_days
from ..selectors import archived_claims_due_for_purge, claim_legal_hold_find, claims_due_for_archive

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
        # An open claim stays active so it can still be paid; a held claim stays where it is.
        if claim.status != ClaimStatus.PAID or claim_legal_hold_find(claim_id=claim_id, shard_alias=alias):
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
            purge_after=claim.submitted_at + timedelta(days=policy.effective_retention_days),
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
    """Delete an archived claim whose retention period under the CURRENT policy is over (and that no
    legal hold protects); the audit event outlives it."""
    now = now or timezone.now()
    alias = shard_for_id(claim_id)
    context.bind(shard_id=alias)
    policies = _policies()
    with transaction.atomic(using=alias):
        archived = ArchivedClaim.objects.using(alias).select_for_update().filter(claim_id=claim_id).first()
        policy = policies.get(archived.retention_class) if archived is not None else None
        if archived is None or policy is None:
            return False
        if archived.submitted_at + timedelta(days=policy.effective_retention_days) > now:
            return False
        if claim_legal_hold_find(claim_id=claim_id, shard_alias=alias):
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
            detail={"retention_class": retention_class, "retention_days": policy.effective_retention_days},
        )
    CLAIM_RETENTION_ACTIONS_TOTAL.labels(action="purged", retention_class=retention_class, shard_id=alias).inc()
    logger.info("claim_purged", claim_id=str(claim_id), retention_class=retention_class)
    return True


def retention_policy_set(
    *, actor: Actor, retention_class: str, active_days: int, retention_days: int
) -> RetentionPolicy:
    """Change a class's windows. Refused below the retention floor; the new retention applies to
    claims already archived on the next sweep."""
    policy = RetentionPolicy.objects.using("default").filter(pk=retention_class).first()
    if policy is None:
        raise UnknownRetentionClass(f"No retention policy is named {retention_class!r}.")
    floor = retention_floor_days(retention_class)
    if retention_days < floor:
        raise RetentionBelowFloor(
            f"retention_days={retention_days} is below the floor of {floor} days for {retention_class!r} claims.",
            field="retention_days",
            extra={"floor_days": floor},
        )
    policy.active_days, policy.retention_days = active_days, retention_days
    try:
        policy.full_clean()
    except ValidationError as error:
        field, messages = next(iter(error.message_dict.items()))
        raise RetentionBelowFloor(
            " ".join(messages), field=field, code="retention_policy_invalid", title="Invalid retention policy"
        ) from error
    policy._change_reason = f"retention_policy_set by {actor.role}: {active_days}d active, {retention_days}d kept"
    policy._history_user = _catalog_user(actor)
    policy.save(using="default")
    logger.info(
        "retention_policy_changed",
        retention_class=retention_class,
        active_days=active_days,
        retention_days=retention_days,
        actor_role=actor.role,
    )
    return policy


def _catalog_user(actor: Actor):
    return get_user_model().objects.filter(pk=actor.user_id).first() if actor.user_id else None


def _claim_patient_id(*, alias: str, claim_id: int) -> int:
    patient_id = (
        Claim.objects.using(alias).filter(pk=claim_id).values_list("patient_id", flat=True).first()
        or ArchivedClaim.objects.using(alias).filter(claim_id=claim_id).values_list("patient_id", flat=True).first()
    )
    if patient_id is None:
        raise ClaimNotFound(f"No active or archived claim has id {claim_id}.")
    return patient_id


def claim_legal_hold_set(*, actor: Actor, claim_id: int, reason: str) -> LegalHold:
    """Place a legal hold: the claim (active or archived) is neither archived nor purged until release."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            "A legal hold needs a reason (the matter or case reference).",
            code="legal_hold_reason_missing",
            field="reason",
            remediation="Give the matter or case reference the hold is for.",
        )
    alias = shard_for_id(claim_id)
    context.bind(shard_id=alias)
    with transaction.atomic(using=alias):
        patient_id = _claim_patient_id(alias=alias, claim_id=claim_id)
        if LegalHold.objects.using(alias).select_for_update().filter(claim_id=claim_id).exists():
            raise LegalHoldConflict(
                f"Claim {claim_id} is already under a legal hold.",
                remediation="Release the existing hold first if its reason must change.",
            )
        hold = LegalHold(
            claim_id=claim_id,
            patient_id=patient_id,
            reason=reason,
            placed_by_user_id=actor.user_id,
            placed_at=timezone.now(),
        )
        hold.save(using=alias)
        change_record(
            using=alias,
            actor=actor,
            patient_id=patient_id,
            action=AuditAction.LEGAL_HOLD_PLACED,
            resource_type=ResourceType.LEGAL_HOLD,
            resource_id=claim_id,
            detail={"reason": reason},
        )
    logger.info("claim_legal_hold_placed", claim_id=str(claim_id))
    return hold


def claim_legal_hold_release(*, actor: Actor, claim_id: int, reason: str = "") -> None:
    """Release a legal hold; the next sweep archives or purges the claim if its policy says so."""
    alias = shard_for_id(claim_id)
    context.bind(shard_id=alias)
    with transaction.atomic(using=alias):
        hold = LegalHold.objects.using(alias).select_for_update().filter(claim_id=claim_id).first()
        if hold is None:
            raise LegalHoldConflict(
                f"Claim {claim_id} is not under a legal hold.", remediation="Check the claim id; nothing to release."
            )
        hold.delete(using=alias)
        change_record(
            using=alias,
            actor=actor,
            patient_id=hold.patient_id,
            action=AuditAction.LEGAL_HOLD_RELEASED,
            resource_type=ResourceType.LEGAL_HOLD,
            resource_id=claim_id,
            detail={"hold_reason": hold.reason, "release_reason": reason.strip()},
        )
    logger.info("claim_legal_hold_released", claim_id=str(claim_id))
