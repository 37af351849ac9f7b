"""Recording a payer's remittance: each payment has its own idempotency key and may not exceed the
claim's remaining balance; the claim moves to paid and ``ClaimPaid`` is emitted."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import structlog
from django.db import transaction
from django.utils import timezone

from apps.audits.vocabulary import AuditAction, ResourceType
from apps.core.actors import Actor
from apps.core.errors import IdempotencyKeyReused, InvalidInput
from apps.core.resolver import shard_for_id
from apps.outbox.changes import change_record
from apps.outbox.events import EventType
from apps.telemetry import context
from apps.telemetry.participants import Participant
from apps.telemetry.spans import participant_span

from ..errors import ActiveClaimNotFound, IdempotencyKeyMissing
from ..models import Claim, ClaimPayment, ClaimStatus
from ..selectors import claim_payment_find
from .submit import amount_band

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ClaimPaymentResult:
    """What ``claim_payment_record`` returns; ``replayed`` when the key was used before."""

    claim: Claim
    payment: ClaimPayment
    replayed: bool

    def as_dict(self) -> dict:
        """The answer, the same for the first call and every replay of its key."""
        return {
            "claim_id": str(self.claim.id),
            "payment_id": str(self.payment.id),
            "amount": str(self.payment.amount),
            "balance_after": str(self.payment.balance_after),
            "status": ClaimStatus.PAID,
            "recorded_at": self.payment.recorded_at.isoformat(),
        }


def claim_payment_record(
    *, actor: Actor, claim_id: int, paid_amount: Decimal, idempotency_key: str
) -> ClaimPaymentResult:
    """Record one remittance from the payer: the claim's paid total grows by ``paid_amount`` (never
    past its total), it moves to paid and ``ClaimPaid`` is emitted. The same ``idempotency_key``
    again answers with the first payment and changes nothing; with another amount it is refused
    (``IdempotencyKeyReused``, 422)."""
    if not idempotency_key or len(idempotency_key) > 128:
        raise IdempotencyKeyMissing("Each payment needs its own Idempotency-Key header (1-128 characters).")
    alias = shard_for_id(claim_id)
    context.bind(shard_id=alias)
    with participant_span(Participant.BILLING_ORCHESTRATOR, claim_id=claim_id), transaction.atomic(using=alias):
        claim = Claim.objects.using(alias).select_for_update().filter(pk=claim_id).first()
        if claim is None:
            raise ActiveClaimNotFound(f"No active claim has id {claim_id}.")
        earlier = claim_payment_find(claim=claim, idempotency_key=idempotency_key)
        if earlier is not None:
            if earlier.amount != paid_amount:
                # The same misuse as a booking's or a claim's key: the same answer (422).
                raise IdempotencyKeyReused(
                    f"Idempotency-Key {idempotency_key!r} already recorded a payment of {earlier.amount}.",
                    remediation="Send a new Idempotency-Key for a new payment; reuse a key only to retry "
                    "the very same payment.",
                )
            return ClaimPaymentResult(claim=claim, payment=earlier, replayed=True)
        balance = claim.total_amount - (claim.paid_amount or Decimal("0"))
        if paid_amount > balance:
            raise InvalidInput(
                f"The payment of {paid_amount} is larger than the claim's remaining balance of {balance}.",
                title="Payment exceeds the remaining balance",
                code="payment_exceeds_balance",
                field="paid_amount",
                remediation="Record at most the remaining balance; check the remittance advice for the "
                "amount this claim was paid.",
                extra={"remaining_balance": str(balance), "total_amount": str(claim.total_amount)},
            )
        now = timezone.now()
        claim.status = ClaimStatus.PAID
        claim.paid_amount = (claim.paid_amount or Decimal("0")) + paid_amount
        claim.paid_at = now
        claim._change_reason = "payment recorded"
        claim.save(using=alias, update_fields=["status", "paid_amount", "paid_at"])
        payment = ClaimPayment(
            claim=claim,
            amount=paid_amount,
            balance_after=balance - paid_amount,
            idempotency_key=idempotency_key,
            recorded_by_user_id=actor.user_id or 0,
            recorded_at=now,
        )
        payment.save(using=alias)
        change_record(
            using=alias,
            actor=actor,
            patient_id=claim.patient_id,
            action=AuditAction.CLAIM_PAID,
            resource_type=ResourceType.CLAIM,
            resource_id=claim.id,
            detail={"payment_id": str(payment.id), "balance_after": str(payment.balance_after)},
            event_type=EventType.CLAIM_PAID,
            payload={
                "claim_id": str(claim.id),
                "patient_id": str(claim.patient_id),
                # The claim's paid total, so a projection that keeps the latest value stays right.
                "paid_amount": str(claim.paid_amount),
                "paid_at": claim.paid_at.isoformat(),
            },
        )
    logger.info("claim_paid", claim_id=str(claim.id), amount_band=amount_band(paid_amount))
    return ClaimPaymentResult(claim=claim, payment=payment, replayed=False)
