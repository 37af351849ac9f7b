"""Submitting a claim (seed "Billing Admin Submits Claim"): validate and enrich, apply the
guardrails, then write the claim, its AUDIT_EVENT and its ``ClaimSubmitted`` event in ONE
transaction on the patient's shard."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import structlog
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audits.models import AuditOutcome
from apps.audits.vocabulary import AuditAction, ResourceType
from apps.core.actors import Actor
from apps.core.idempotency import RecordedKey, idempotency_caller, idempotency_key_record, idempotency_key_taken
from apps.core.ids import bucket_of
from apps.core.resolver import shard_for_id
from apps.core.sharding import shard_scope
from apps.core.sql_retry import transient_sql_retrying
from apps.encounters.models import Encounter, EncounterStatus
from apps.outbox.changes import change_record
from apps.outbox.events import EventType
from apps.patients.models import Patient
from apps.telemetry import context
from apps.telemetry.participants import Participant
from apps.telemetry.spans import participant_span

from .. import guardrails
from ..errors import (
    SUBMISSION_REJECTIONS,
    ClaimReplayGone,
    EncounterMismatch,
    EncounterNotFinished,
    GuardrailViolation,
    IdempotencyKeyMissing,
    IdempotencyKeyReused,
    UnknownPatient,
    UnknownPayer,
)
from ..metrics import CLAIM_GUARDRAIL_VIOLATIONS_TOTAL, CLAIM_SUBMIT_LATENCY
from ..models import ArchivedClaim, Claim, ClaimLineItem, Payer

logger = structlog.get_logger(__name__)

# The use case's name in the catalog's Idempotency-Key registry.
CLAIM_SCOPE = "claim.submit"

# Transient SQL errors (lost connection, serialization failure, deadlock): retried, then 503.
PERSIST_ATTEMPTS = 3
PERSIST_BUDGET_SECONDS = 3.0


@dataclass(frozen=True)
class LineItemInput:
    procedure_code: str
    diagnosis_codes: tuple[str, ...]
    units: int
    unit_price: Decimal

    @property
    def line_total(self) -> Decimal:
        return (self.unit_price * self.units).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class ClaimSubmission:
    claim: Claim
    created: bool


def amount_band(amount: Decimal) -> str:
    """A coarse band for logs: amounts are never logged next to anything that names a person."""
    for ceiling, band in ((100, "<100"), (1000, "100-1k"), (10000, "1k-10k")):
        if amount < ceiling:
            return band
    return ">=10k"


def claim_request_fingerprint(
    *, patient_id: int, encounter_id: int, payer_code: str, currency: str, line_items: list[LineItemInput]
) -> str:
    canonical = {
        "patient_id": str(patient_id),
        "encounter_id": str(encounter_id),
        "payer_code": payer_code,
        "currency": currency,
        "line_items": [
            [item.procedure_code, list(item.diagnosis_codes), item.units, str(item.unit_price)] for item in line_items
        ],
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def claim_submit(
    *,
    actor: Actor,
    user: AbstractBaseUser | None,
    patient_id: int,
    encounter_id: int,
    payer_code: str,
    currency: str,
    line_items: list[LineItemInput],
    idempotency_key: str,
) -> ClaimSubmission:
    """Validate and enrich a claim, apply the guardrails, then persist claim + audit + outbox atomically.

    The key is taken in the catalog's registry first (apps.core.idempotency): the same caller,
    key and request replays the first claim wherever it lives now; the key used for a different
    request, on any shard, raises ``IdempotencyKeyReused`` (422)."""
    if not idempotency_key or len(idempotency_key) > 128:
        raise IdempotencyKeyMissing()
    started = time.perf_counter()
    alias = shard_for_id(patient_id)
    context.bind(shard_id=alias)
    outcome = "error"
    try:
        with participant_span(
            Participant.BILLING_ORCHESTRATOR, encounter_id=encounter_id, line_item_count=len(line_items)
        ):
            fingerprint = claim_request_fingerprint(
                patient_id=patient_id,
                encounter_id=encounter_id,
                payer_code=payer_code,
                currency=currency,
                line_items=line_items,
            )
            with idempotency_key_taken(
                actor=actor, key=idempotency_key, scope=CLAIM_SCOPE, fingerprint=fingerprint
            ) as use:
                if not use.first:
                    outcome = "replayed"
                    return ClaimSubmission(claim=_claim_replay_recorded(use.entry), created=False)
                # A key the shard knows and the catalog does not (its catalog commit was lost, or it
                # predates the registry): replay it and let the registry learn it.
                replay = _idempotent_replay(using=alias, actor=actor, key=idempotency_key, fingerprint=fingerprint)
                if replay is not None:
                    idempotency_key_record(
                        use,
                        shard_alias=alias,
                        resource_type=ResourceType.CLAIM,
                        resource_id=replay.id,
                        response=claim_first_answer(replay),
                    )
                    outcome = "replayed"
                    return ClaimSubmission(claim=replay, created=False)
                payer = _payer(payer_code)
                total = sum((item.line_total for item in line_items), Decimal("0.00"))
                try:
                    guardrails.rate_limit_check(actor=actor)
                    for attempt in transient_sql_retrying(
                        alias=alias, attempts=PERSIST_ATTEMPTS, budget_seconds=PERSIST_BUDGET_SECONDS
                    ):
                        with attempt:
                            submission = _persist(
                                alias=alias,
                                actor=actor,
                                user=user,
                                patient_id=patient_id,
                                encounter_id=encounter_id,
                                payer=payer,
                                currency=currency,
                                line_items=line_items,
                                total=total,
                                idempotency_key=idempotency_key,
                                fingerprint=fingerprint,
                            )
                except GuardrailViolation as violation:
                    outcome = "guardrail_violation"
                    _record_violation(
                        alias=alias, actor=actor, patient_id=patient_id, encounter_id=encounter_id, violation=violation
                    )
                    raise
                idempotency_key_record(
                    use,
                    shard_alias=alias,
                    resource_type=ResourceType.CLAIM,
                    resource_id=submission.claim.id,
                    response=claim_first_answer(submission.claim),
                )
                outcome = "created" if submission.created else "replayed"
                if submission.created:
                    logger.info(
                        "claim_submitted",
                        claim_id=str(submission.claim.id),
                        encounter_id=str(encounter_id),
                        payer_code=payer.code,
                        line_item_count=len(line_items),
                        amount_band=amount_band(total),
                        retention_class=submission.claim.retention_class,
                    )
                return submission
    except SUBMISSION_REJECTIONS:
        outcome = "rejected"
        raise
    finally:
        CLAIM_SUBMIT_LATENCY.labels(outcome=outcome, shard_id=alias, actor_role=actor.role).observe(
            time.perf_counter() - started
        )


def _payer(code: str) -> Payer:
    payer = Payer.objects.using("default").select_related("retention_class").filter(code=code, active=True).first()
    if payer is None:
        raise UnknownPayer(f"No active payer has code {code!r}.")
    return payer


def _claim_replay_recorded(entry) -> Claim:
    """The claim this key created, from the registry: the live claim on the shard its id names
    under today's map; once archived or purged, the first answer the registry kept (with the
    archived status while the archived copy exists). Never a second claim."""
    alias = shard_for_id(entry.resource_id)
    claim = Claim.objects.using(alias).filter(pk=entry.resource_id).first()
    if claim is not None:
        return claim
    first = entry.response
    if not first:
        raise ClaimReplayGone(f"Claim {entry.resource_id}, created with this Idempotency-Key, is no longer held.")
    archived = ArchivedClaim.objects.using(alias).filter(claim_id=entry.resource_id).first()
    return Claim(
        id=entry.resource_id,
        patient_id=int(first["patient_id"]),
        encounter_id=int(first["encounter_id"]),
        payer_code=first["payer_code"],
        status=archived.status if archived is not None else first["status"],
        currency=first["currency"],
        total_amount=Decimal(first["total_amount"]),
        retention_class=first["retention_class"],
        trace_id=first["trace_id"],
        submitted_at=datetime.fromisoformat(first["submitted_at"]),
    )


def claim_first_answer(claim: Claim) -> dict:
    """What the registry keeps of the first answer: ids, codes and totals (as the ClaimSubmitted event)."""
    return {
        "patient_id": str(claim.patient_id),
        "encounter_id": str(claim.encounter_id),
        "payer_code": claim.payer_code,
        "status": claim.status,
        "currency": claim.currency,
        "total_amount": str(claim.total_amount),
        "retention_class": claim.retention_class,
        "trace_id": claim.trace_id,
        "submitted_at": claim.submitted_at.isoformat(),
    }


def claim_keys_on_shard(*, alias: str) -> list[RecordedKey]:
    """The Idempotency-Keys the active claims on ``alias`` hold (for the registry's backfill;
    archived claims kept no key)."""
    return [
        RecordedKey(
            caller=idempotency_caller(Actor(user_id=claim.submitted_by_user_id, role="")),
            key=claim.idempotency_key,
            scope=CLAIM_SCOPE,
            fingerprint=claim.request_fingerprint,
            shard_alias=alias,
            resource_type=ResourceType.CLAIM,
            resource_id=claim.id,
            response=claim_first_answer(claim),
        )
        for claim in Claim.objects.using(alias).exclude(submitted_by_user_id=None).order_by("submitted_at", "id")
    ]


def _idempotent_replay(*, using: str, actor: Actor, key: str, fingerprint: str) -> Claim | None:
    claim = Claim.objects.using(using).filter(submitted_by_user_id=actor.user_id, idempotency_key=key).first()
    if claim is None:
        return None
    if claim.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused("This Idempotency-Key was already used for a different claim body.")
    return claim


def _persist(
    *,
    alias: str,
    actor: Actor,
    user: AbstractBaseUser | None,
    patient_id: int,
    encounter_id: int,
    payer: Payer,
    currency: str,
    line_items: list[LineItemInput],
    total: Decimal,
    idempotency_key: str,
    fingerprint: str,
) -> ClaimSubmission:
    try:
        with transaction.atomic(using=alias):
            with (
                participant_span(Participant.BILLING_REPOSITORY_ADAPTER),
                participant_span(Participant.SQL_SHARD_PRIMARY, db_alias=alias),
            ):
                patient, encounter = _locked_encounter(alias=alias, patient_id=patient_id, encounter_id=encounter_id)
                # Re-checked under the encounter lock: a concurrent retry of this request is a replay,
                # not a duplicate claim.
                replay = _idempotent_replay(using=alias, actor=actor, key=idempotency_key, fingerprint=fingerprint)
                if replay is not None:
                    return ClaimSubmission(claim=replay, created=False)
                guardrails.own_patient_record_check(actor=actor, user=user, patient=patient)
                guardrails.amount_ceiling_check(actor=actor, total=total)
                guardrails.duplicate_claim_check(using=alias, encounter_id=encounter.id)
                claim = _claim_create(
                    alias=alias,
                    actor=actor,
                    patient=patient,
                    encounter=encounter,
                    payer=payer,
                    currency=currency,
                    line_items=line_items,
                    total=total,
                    idempotency_key=idempotency_key,
                    fingerprint=fingerprint,
                )
            change_record(
                using=alias,
                actor=actor,
                patient_id=patient.id,
                action=AuditAction.CLAIM_SUBMITTED,
                resource_type=ResourceType.CLAIM,
                resource_id=claim.id,
                detail={
                    "encounter_id": str(encounter.id),
                    "payer_code": payer.code,
                    "line_item_count": len(line_items),
                    "retention_class": claim.retention_class,
                },
                event_type=EventType.CLAIM_SUBMITTED,
                payload=claim_submitted_payload(claim, line_item_count=len(line_items)),
            )
            return ClaimSubmission(claim=claim, created=True)
    except IntegrityError:
        # A concurrent request won the race on the idempotency key or the encounter.
        replay = _idempotent_replay(using=alias, actor=actor, key=idempotency_key, fingerprint=fingerprint)
        if replay is not None:
            return ClaimSubmission(claim=replay, created=False)
        guardrails.duplicate_claim_check(using=alias, encounter_id=encounter_id)
        raise


def _locked_encounter(*, alias: str, patient_id: int, encounter_id: int) -> tuple[Patient, Encounter]:
    patient = Patient.objects.using(alias).filter(pk=patient_id).first()
    if patient is None:
        raise UnknownPatient(f"No patient has id {patient_id}.")
    encounter = None
    if bucket_of(encounter_id) == bucket_of(patient_id):
        encounter = (
            Encounter.objects.using(alias).select_for_update().filter(pk=encounter_id, patient_id=patient_id).first()
        )
    if encounter is None:
        raise EncounterMismatch(f"Patient {patient_id} has no encounter {encounter_id}.")
    if encounter.status != EncounterStatus.FINISHED:
        raise EncounterNotFinished(
            f"Encounter {encounter_id} is {encounter.status}; only finished encounters can be billed."
        )
    return patient, encounter


def _claim_create(
    *,
    alias: str,
    actor: Actor,
    patient: Patient,
    encounter: Encounter,
    payer: Payer,
    currency: str,
    line_items: list[LineItemInput],
    total: Decimal,
    idempotency_key: str,
    fingerprint: str,
) -> Claim:
    claim = Claim(
        patient=patient,
        encounter=encounter,
        payer_code=payer.code,
        currency=currency,
        total_amount=total,
        retention_class=payer.retention_class_id,
        submitted_by_user_id=actor.user_id,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        trace_id=context.current()["trace_id"] or "",
        submitted_at=timezone.now(),
    )
    claim.save(using=alias)
    rows = []
    for sequence, item in enumerate(line_items, start=1):
        row = ClaimLineItem(
            claim=claim,
            sequence=sequence,
            procedure_code=item.procedure_code,
            diagnosis_codes=list(item.diagnosis_codes),
            units=item.units,
            unit_price=item.unit_price,
            line_total=item.line_total,
        )
        row.assign_id()
        rows.append(row)
    ClaimLineItem.objects.using(alias).bulk_create(rows)
    # bulk_create sends no signals: the line items' first history rows are written explicitly.
    with shard_scope(alias):
        ClaimLineItem.history.bulk_history_create(rows, default_change_reason="claim submitted")
    return claim


def claim_submitted_payload(claim: Claim, *, line_item_count: int) -> dict:
    """The ClaimSubmitted event: ids, codes and totals only — no names, no free text."""
    return {
        "claim_id": str(claim.id),
        "patient_id": str(claim.patient_id),
        "encounter_id": str(claim.encounter_id),
        "payer_code": claim.payer_code,
        "status": claim.status,
        "currency": claim.currency,
        "total_amount": str(claim.total_amount),
        "line_item_count": line_item_count,
        "retention_class": claim.retention_class,
        "submitted_at": claim.submitted_at.isoformat(),
    }


def _record_violation(
    *, alias: str, actor: Actor, patient_id: int, encounter_id: int, violation: GuardrailViolation
) -> None:
    """The refused attempt is audited in its own transaction: the claim's transaction rolled back."""
    CLAIM_GUARDRAIL_VIOLATIONS_TOTAL.labels(rule=violation.rule, shard_id=alias, actor_role=actor.role).inc()
    logger.warning("claim_guardrail_violation", rule=violation.rule, encounter_id=str(encounter_id))
    with transaction.atomic(using=alias):
        change_record(
            using=alias,
            patient_id=patient_id,
            action=AuditAction.CLAIM_SUBMITTED,
            resource_type=ResourceType.CLAIM,
            actor=actor,
            outcome=AuditOutcome.GUARDRAIL_VIOLATION,
            detail={"rule": violation.rule, "encounter_id": str(encounter_id), **violation.context},
        )
