"""Guardrails for financial operations (seed FR-08.3, FR-18.1).

Each rule raises ``GuardrailViolation`` naming itself; the orchestrator turns that into a 403 and an
AUDIT_EVENT with outcome ``guardrail_violation``. The rate limit runs before the transaction (it
counts attempts, in Redis); the others run inside it, after the encounter row is locked."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser

from apps.core.actors import Actor
from apps.core.errors import DependencyUnavailable
from apps.core.models import Persona
from apps.patients.models import Patient

from .errors import GuardrailViolation
from .models import AmountCeiling, ArchivedClaim, Claim, StaffPatientRecord


class GuardrailRule:
    AMOUNT_CEILING = "amount_ceiling"
    DUPLICATE_CLAIM = "duplicate_claim"
    OWN_PATIENT_RECORD = "own_patient_record"
    RATE_LIMIT = "rate_limit"


def rate_limit_settings() -> tuple[int, int]:
    """(claims allowed, per window seconds) for one billing admin."""
    return (
        int(settings.PIMLAB_CLAIMS_RATE_LIMIT),
        int(settings.PIMLAB_CLAIMS_RATE_WINDOW_SECONDS),
    )


class _InProcessWindowCounter:
    """Fixed-window counter for the embedded profile, where there is no Redis (one window per key)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}

    def incr(self, key: str, window_start: int) -> int:
        with self._lock:
            start, count = self._windows.get(key, (window_start, 0))
            count = count + 1 if start == window_start else 1
            self._windows[key] = (window_start, count)
            return count


_in_process_counter = _InProcessWindowCounter()
_redis_clients: dict[str, object] = {}


def _redis(url: str):
    client = _redis_clients.get(url)
    if client is None:
        import redis

        client = _redis_clients[url] = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    return client


def rate_limit_check(*, actor: Actor, now: float | None = None) -> None:
    limit, window = rate_limit_settings()
    now = time.time() if now is None else now
    window_start = int(now // window) * window
    url = settings.PIMLAB_REDIS_URL
    if url:
        key = f"pimlab:ratelimit:claim_submit:{actor.user_id}:{window_start}"
        import redis

        pipeline = _redis(url).pipeline(transaction=True)
        pipeline.incr(key)
        pipeline.expire(key, window + 5)
        try:
            count = int(pipeline.execute()[0])
        except redis.RedisError as exc:
            # Without its counter the guardrail cannot hold: refuse (nothing written), never 500.
            raise DependencyUnavailable(
                "The claims rate limiter's Redis did not answer in time; the claim was not submitted.",
                dependency="redis",
                retry_after=5,
            ) from exc
    else:
        count = _in_process_counter.incr(f"claim_submit:{actor.user_id}", window_start)
    if count > limit:
        retry_after = max(1, int(window_start + window - now))
        raise GuardrailViolation(
            rule=GuardrailRule.RATE_LIMIT,
            detail=f"More than {limit} claim submissions in {window} s by one billing admin.",
            remediation=f"Wait {retry_after} s. Bulk submissions belong in a reviewed batch job, not the API.",
            context={"limit": limit, "window_seconds": window},
            retry_after_seconds=retry_after,
        )


def amount_ceiling_check(*, actor: Actor, total: Decimal) -> None:
    ceiling = AmountCeiling.objects.using("default").filter(role=actor.role).first()
    maximum = ceiling.max_claim_total if ceiling is not None else Decimal("0")
    if total > maximum:
        raise GuardrailViolation(
            rule=GuardrailRule.AMOUNT_CEILING,
            detail=f"The claim total exceeds the ceiling for role {actor.role}.",
            remediation="Split the claim per encounter line, or ask a supervisor to raise the ceiling "
            "(Django admin → Claims → Amount ceilings).",
            context={"ceiling": str(maximum)},
        )


def own_patient_record_check(*, actor: Actor, user: AbstractBaseUser | None, patient: Patient) -> None:
    """A billing admin may not bill their own care: linked record, persona link or same e-mail."""
    own_ids = set(
        StaffPatientRecord.objects.using("default").filter(user_id=actor.user_id).values_list("patient_id", flat=True)
    )
    persona_patient = (
        Persona.objects.using("default").filter(user_id=actor.user_id).values_list("patient_id", flat=True).first()
    )
    if persona_patient:
        own_ids.add(persona_patient)
    same_email = bool(user is not None and user.email and patient.email and user.email.lower() == patient.email.lower())
    if patient.id in own_ids or same_email:
        raise GuardrailViolation(
            rule=GuardrailRule.OWN_PATIENT_RECORD,
            detail="A billing admin may not submit a claim for their own patient record.",
            remediation="Ask another billing admin to submit this claim.",
        )


def duplicate_claim_check(*, using: str, encounter_id: int) -> None:
    """Runs with the encounter row locked, so two submissions for it cannot both pass."""
    existing = Claim.objects.using(using).filter(encounter_id=encounter_id).values_list("id", flat=True).first()
    if existing is None:
        existing = (
            ArchivedClaim.objects.using(using)
            .filter(encounter_id=encounter_id)
            .values_list("claim_id", flat=True)
            .first()
        )
    if existing is not None:
        raise GuardrailViolation(
            rule=GuardrailRule.DUPLICATE_CLAIM,
            detail="This encounter already has a claim.",
            remediation="Correct the existing claim instead of submitting a second one.",
            context={"existing_claim_id": str(existing)},
        )
