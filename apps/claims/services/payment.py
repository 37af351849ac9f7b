"""Recording a payer's remittance: the claim moves from open to paid and ``ClaimPaid`` is emitted."""

from __future__ import annotations

from decimal import Decimal

import structlog
from django.db import transaction
from django.utils import timezone

from apps.audits.vocabulary import AuditAction, ResourceType
from apps.core.actors import Actor
from apps.core.resolver import shard_for_id
from apps.outbox.changes import change_record
from apps.outbox.events import EventType
from apps.telemetry import context
from apps.telemetry.participants import Participant
from apps.telemetry.spans import participant_span

from ..errors import ActiveClaimNotFound
from ..models import Claim, ClaimStatus
from .submit import amount_band

logger = structlog.get_logger(__name__)


def claim_payment_record(*, actor: Actor, claim_id: int, paid_amount: Decimal) -> Claim:
    """Record the payer's remittance: the claim moves from open to paid and ``ClaimPaid`` is emitted."""
    alias = shard_for_id(claim_id)
    context.bind(shard_id=alias)
    with participant_span(Participant.BILLING_ORCHESTRATOR, claim_id=claim_id), transaction.atomic(using=alias):
        claim = Claim.objects.using(alias).select_for_update().filter(pk=claim_id).first()
        if claim is None:
            raise ActiveClaimNotFound(f"No active claim has id {claim_id}.")
        if claim.status == ClaimStatus.PAID:
            return claim
        claim.status = ClaimStatus.PAID
        claim.paid_amount = paid_amount
        claim.paid_at = timezone.now()
        claim.save(using=alias, update_fields=["status", "paid_amount", "paid_at"])
        change_record(
            using=alias,
            actor=actor,
            patient_id=claim.patient_id,
            action=AuditAction.CLAIM_PAID,
            resource_type=ResourceType.CLAIM,
            resource_id=claim.id,
            event_type=EventType.CLAIM_PAID,
            payload={
                "claim_id": str(claim.id),
                "patient_id": str(claim.patient_id),
                "paid_amount": str(paid_amount),
                "paid_at": claim.paid_at.isoformat(),
            },
        )
    logger.info("claim_paid", claim_id=str(claim.id), amount_band=amount_band(paid_amount))
    return claim
