"""Claim reads. Every query names its shard: the claim id (or the patient id) tells which."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q

from apps.core.actors import Actor
from apps.core.models import PersonaRole
from apps.core.resolver import shard_for_id
from apps.core.sharding import across_shards
from apps.encounters.models import Encounter, EncounterStatus
from apps.telemetry import context

from .models import ArchivedClaim, Claim, ClaimPayment, ClaimStatus, LegalHold, Payer, RetentionPolicy


class ClaimView:
    """Which projection of a claim a role gets (docs/access-policy.md)."""

    BILLING = "billing"  # billing admins: everything, diagnosis codes and FHIR export included
    OPERATIONS = "operations"  # operators: ids, status, amounts, procedure codes; no diagnosis codes


# Purpose of use per role, recorded with every audited claim read.
CLAIM_VIEW_BY_ROLE = {PersonaRole.BILLING_ADMIN: ClaimView.BILLING, PersonaRole.OPERATOR: ClaimView.OPERATIONS}
CLAIM_READ_PURPOSE = {ClaimView.BILLING: "payment", ClaimView.OPERATIONS: "operations"}
# Line-item fields an operator does not get: a diagnosis code is the patient's condition.
OPERATIONS_HIDDEN_LINE_FIELDS = frozenset({"diagnosis_codes"})


def claim_view_for(*, actor: Actor) -> str | None:
    """The view ``actor`` gets of any claim, or None (claims are org-wide for billing: no row rule
    beyond the role; see the policy)."""
    return CLAIM_VIEW_BY_ROLE.get(actor.role)


def claim_payment_find(*, claim: Claim, idempotency_key: str) -> ClaimPayment | None:
    return ClaimPayment.objects.using(claim._state.db).filter(claim=claim, idempotency_key=idempotency_key).first()


def claim_get(*, claim_id: int) -> Claim | None:
    alias = shard_for_id(claim_id)
    context.bind(shard_id=alias)
    return Claim.objects.using(alias).select_related("encounter").filter(pk=claim_id).first()


def claim_line_items(*, claim: Claim) -> list:
    return list(claim.line_items.using(claim._state.db).order_by("sequence"))


def archived_claim_get(*, claim_id: int) -> ArchivedClaim | None:
    return ArchivedClaim.objects.using(shard_for_id(claim_id)).filter(claim_id=claim_id).first()


def payer_list() -> list[Payer]:
    return list(Payer.objects.using("default").filter(active=True).order_by("code"))


def claims_due_for_archive(*, shard_alias: str, now: datetime, limit: int = 500) -> list[int]:
    """Ids of paid claims on ``shard_alias`` past their active window and under no legal hold
    (an open claim stays active so it can still be paid)."""
    due = Q(pk__in=[])
    for policy in RetentionPolicy.objects.using("default").all():
        due |= Q(retention_class=policy.retention_class, submitted_at__lte=now - timedelta(days=policy.active_days))
    held = LegalHold.objects.using(shard_alias).values("claim_id")
    return list(
        Claim.objects.using(shard_alias)
        .filter(due, status=ClaimStatus.PAID)
        .exclude(pk__in=held)
        .order_by("submitted_at")
        .values_list("id", flat=True)[:limit]
    )


def archived_claims_due_for_purge(*, shard_alias: str, now: datetime, limit: int = 500) -> list[int]:
    """Archived claims past the CURRENT retention of their class (never below the floor), not held."""
    due = Q(pk__in=[])
    for policy in RetentionPolicy.objects.using("default").all():
        due |= Q(
            retention_class=policy.retention_class,
            submitted_at__lte=now - timedelta(days=policy.effective_retention_days),
        )
    held = LegalHold.objects.using(shard_alias).values("claim_id")
    return list(
        ArchivedClaim.objects.using(shard_alias)
        .filter(due)
        .exclude(claim_id__in=held)
        .order_by("submitted_at")
        .values_list("claim_id", flat=True)[:limit]
    )


def claim_legal_hold_find(*, claim_id: int, shard_alias: str) -> LegalHold | None:
    return LegalHold.objects.using(shard_alias).filter(claim_id=claim_id).first()


def encounters_ready_to_bill() -> list:
    """Per shard, finished encounters without a claim, oldest visit first (for a paged list)."""
    # NOT EXISTS (an anti-join the planner estimates well) rather than LEFT JOIN ... IS NULL: read
    # from the finished-visits index in order, each probe a unique-index lookup on claims.
    claimed = Claim.objects.filter(encounter_id=OuterRef("pk"))
    return [
        encounters.filter(~Exists(claimed), status=EncounterStatus.FINISHED)
        .select_related("patient")
        .order_by("requested_start", "id")
        for _alias, encounters in across_shards(Encounter)
    ]


def claims_recent() -> list:
    """Per shard, claims newest first with their patient (for a paged list)."""
    return [
        claims.select_related("patient").order_by("-submitted_at", "-id") for _alias, claims in across_shards(Claim)
    ]
