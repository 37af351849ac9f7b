"""Refusals of the claim use cases (submit, pay, read)."""

from __future__ import annotations

from apps.core.errors import (
    BadRequest,
    Conflict,
    Gone,
    IdempotencyKeyReused,
    InvalidInput,
    NotFound,
    PermissionRefused,
)


class GuardrailViolation(PermissionRefused):
    """A financial guardrail (seed FR-08.3, FR-18.1) refused the operation; ``rule`` names it."""

    code = "guardrail_violation"
    title = "Guardrail violation"

    def __init__(
        self,
        *,
        rule: str,
        detail: str,
        remediation: str,
        context: dict | None = None,
        retry_after_seconds: int | None = None,
    ):
        self.rule = rule
        self.context = dict(context or {})
        self.retry_after_seconds = retry_after_seconds
        headers = {"Retry-After": str(retry_after_seconds)} if retry_after_seconds else None
        super().__init__(detail, remediation=remediation, headers=headers, extra={"rule": rule})

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


class IdempotencyKeyMissing(BadRequest):
    code = "idempotency_key_missing"
    title = "Idempotency-Key required"
    remediation = "Send a fresh UUID as Idempotency-Key; reuse it only to retry the same claim."
    default_detail = "POST /api/claims needs an Idempotency-Key header (1-128 characters)."


class ClaimReplayGone(Gone):
    code = "claim_replay_gone"
    title = "Claim no longer held"
    remediation = "The claim this Idempotency-Key created was purged; send a new key only for a new claim."


class UnknownPayer(BadRequest):
    code = "unknown_payer"
    title = "Unknown payer"
    remediation = "Use a payer code from GET /api/claims/payers."


class UnknownPatient(InvalidInput):
    code = "unknown_patient"
    title = "Unknown patient"
    remediation = "Use the patient id shown on the encounter you are billing."


class EncounterMismatch(InvalidInput):
    code = "encounter_mismatch"
    title = "Encounter not found for this patient"
    remediation = "Bill an encounter of this patient: check encounter_id and patient_id belong together."


class EncounterNotFinished(InvalidInput):
    code = "encounter_not_finished"
    title = "Encounter not finished"
    remediation = "Wait until the clinician marks the encounter finished, then submit the claim."


# A submission refused for its content (the submit latency metric labels these "rejected").
SUBMISSION_REJECTIONS = (UnknownPayer, IdempotencyKeyReused, UnknownPatient, EncounterMismatch, EncounterNotFinished)


# Every refusal of POST /api/claims (the guardrails and the missing key besides the rejections).
SUBMISSION_ERRORS = (IdempotencyKeyMissing, GuardrailViolation, ClaimReplayGone, *SUBMISSION_REJECTIONS)


class ClaimNotFound(NotFound):
    remediation = "Check the id; purged claims are gone for good."


class ActiveClaimNotFound(NotFound):
    remediation = "Check the claim id; archived claims cannot be paid."


class ClaimArchived(Gone):
    title = "Archived"
    remediation = "Read the archived copy as JSON (without format=fhir) or in the Django admin."
    default_detail = "Archived claims are not served as FHIR resources."


class RetentionBelowFloor(InvalidInput):
    code = "retention_below_floor"
    title = "Retention below the floor"
    remediation = "Keep retention_days at or above the floor (PIMLAB_RETENTION_FLOOR_DAYS) for this class."


class UnknownRetentionClass(NotFound):
    code = "unknown_retention_class"
    title = "Unknown retention class"
    remediation = "Use a retention class listed in the admin's retention policies."


class LegalHoldConflict(Conflict):
    code = "legal_hold_conflict"
    title = "Legal hold state conflict"
