"""Writes for encounters.

Booking (seed "Patient Books Encounter"): ``encounter_book`` is the Patient Orchestrator. It
resolves the patient's shard, then writes the encounter (with its history row), its AUDIT_EVENT
and its ``EncounterCreated`` outbox row in ONE transaction on that shard, retrying transient SQL
errors with exponential back-off and jitter. Finishing a visit closes it for billing.

Clinical notes (seed "Clinician Documents Encounter") are written by ``notes.services``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from apps.audits.models import AuditOutcome
from apps.audits.services import audit_access_record
from apps.audits.vocabulary import AuditAction, ResourceType
from apps.core.actors import Actor
from apps.core.errors import Gone, IdempotencyKeyReused, NotFound
from apps.core.idempotency import (
    PlannedResource,
    RecordedKey,
    idempotency_caller,
    idempotency_key_record,
    idempotency_key_taken,
)
from apps.core.ids import bucket_of, new_id
from apps.core.models import PersonaRole
from apps.core.redaction import phi_redact
from apps.core.resolver import shard_for_bucket, shard_for_id
from apps.core.sql_retry import transient_sql_retrying
from apps.outbox.changes import change_record
from apps.outbox.events import EventType
from apps.outbox.models import OutboxStatus
from apps.patients.models import Patient
from apps.telemetry import context
from apps.telemetry.participants import Participant
from apps.telemetry.spans import participant_span

from .errors import (
    BookingInvalid,
    EncounterNotFinishable,
    EncounterNotFinishableByActor,
    EncounterNotStarted,
    IdempotencyKeyRequired,
    NotOwnPatient,
    PatientNotFound,
)
from .metrics import ENCOUNTER_WRITE_LATENCY, ENCOUNTER_WRITE_RETRIES_TOTAL
from .models import Encounter, EncounterStatus, EncounterType
from .profiling import profile_tags
from .selectors import (
    clinician_on_care_team,
    clinician_relation,
    encounter_booking_event,
    encounter_find_by_idempotency_key,
)

logger = structlog.get_logger(__name__)

# The use case's name in the catalog's Idempotency-Key registry.
BOOKING_SCOPE = "encounter.book"


# --- booking ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EncounterBooking:
    """What ``encounter_book`` returns. Unpacks as ``(encounter, created)``.

    ``created`` is False when the idempotency key was already used for the same request: the
    original encounter is returned and nothing is written. ``tracking_id`` is the id of the
    ``EncounterCreated`` outbox event, ``event_status`` its outbox status."""

    encounter: Encounter
    created: bool
    tracking_id: str
    event_status: str

    @property
    def event_published(self) -> bool:
        return self.event_status == OutboxStatus.PUBLISHED

    def __iter__(self) -> Iterator:
        yield self.encounter
        yield self.created


def booking_request_fingerprint(*, patient_id: int, encounter_type: str, reason: str, requested_start: datetime) -> str:
    """A stable digest of what was asked, to tell a retry from a different request with the same key."""
    canonical = json.dumps(
        [str(patient_id), encounter_type, reason, requested_start.astimezone(UTC).isoformat()],
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def encounter_book(
    *,
    actor: Actor,
    patient_id: int,
    encounter_type: str,
    reason: str,
    requested_start: datetime,
    idempotency_key: str,
    request_fingerprint: str | None = None,
) -> EncounterBooking:
    """Book an encounter for ``patient_id`` on behalf of ``actor`` (authorization is the caller's job).

    Returns an ``EncounterBooking`` (``encounter, created = encounter_book(...)`` also works).
    Raises ``BookingInvalid`` (bad fields), ``PatientNotFound``, ``IdempotencyKeyReused`` (422: the
    caller used the key for a different request, on any shard), ``ShardMapMissing``, or the last
    transient ``DatabaseError`` once the retry budget is spent — in every case nothing is written.
    ``request_fingerprint`` defaults to ``booking_request_fingerprint`` of the fields. Identifiers in
    ``reason`` are masked before anything is stored (apps.core.redaction)."""
    reason, _ = phi_redact(reason)
    if not idempotency_key or len(idempotency_key) > Encounter._meta.get_field("idempotency_key").max_length:
        raise IdempotencyKeyRequired("Booking needs an Idempotency-Key header of 1–128 characters.")
    _booking_validate(actor=actor, encounter_type=encounter_type, reason=reason, requested_start=requested_start)
    if request_fingerprint is None:
        request_fingerprint = booking_request_fingerprint(
            patient_id=patient_id, encounter_type=encounter_type, reason=reason, requested_start=requested_start
        )
    with (
        participant_span(Participant.PATIENT_ORCHESTRATOR),
        profile_tags(scenario="encounter_book", actor_role=actor.role),
    ):
        with participant_span(Participant.SHARD_RESOLVER, refresh_labels=True):
            alias = shard_for_bucket(bucket_of(patient_id))
            context.bind(shard_id=alias)
        _booking_authorize(actor=actor, patient_id=patient_id, alias=alias)
        started = time.perf_counter()
        outcome = "failed"
        # The encounter's id is made here, so the key's registry row is written complete at once.
        encounter_id = new_id(bucket_of(patient_id))
        try:
            with idempotency_key_taken(
                actor=actor,
                key=idempotency_key,
                scope=BOOKING_SCOPE,
                fingerprint=request_fingerprint,
                planned=_booking_registry_entry(alias=alias, encounter_id=encounter_id, patient_id=patient_id),
            ) as use:
                if use.first:
                    booking = _booking_write_or_replay(
                        alias=alias,
                        actor=actor,
                        encounter_id=encounter_id,
                        patient_id=patient_id,
                        encounter_type=encounter_type,
                        reason=reason,
                        requested_start=requested_start,
                        idempotency_key=idempotency_key,
                        request_fingerprint=request_fingerprint,
                    )
                    # The same values as planned unless the shard replayed an earlier booking.
                    entry = _booking_registry_entry(
                        alias=alias, encounter_id=booking.encounter.id, patient_id=patient_id
                    )
                    idempotency_key_record(
                        use,
                        shard_alias=entry.shard_alias,
                        resource_type=entry.resource_type,
                        resource_id=entry.resource_id,
                        response=entry.response,
                    )
                else:
                    booking = _booking_replay_recorded(use.entry)
                outcome = "created" if booking.created else "replayed"
        except IdempotencyKeyReused:
            outcome = "conflict"
            raise
        except DatabaseError as exc:
            # Retries spent (or a non-transient error): the transaction rolled back, nothing written.
            logger.error("encounter_write_failed", shard_id=alias, error_class=type(exc).__name__)
            raise
        finally:
            elapsed = time.perf_counter() - started
            trace_id = context.current_trace_id()
            ENCOUNTER_WRITE_LATENCY.labels(shard_id=alias, outcome=outcome, actor_role=actor.role).observe(
                elapsed, exemplar={"trace_id": trace_id} if trace_id else None
            )
    logger.info(
        "encounter_booked" if booking.created else "encounter_booking_replayed",
        shard_id=alias,
        encounter_id=str(booking.encounter.id),
        tracking_id=booking.tracking_id,
        encounter_type=encounter_type,
        write_ms=round(elapsed * 1000, 3),
    )
    return booking


def _booking_registry_entry(*, alias: str, encounter_id: int, patient_id: int) -> PlannedResource:
    return PlannedResource(
        shard_alias=alias,
        resource_type=ResourceType.ENCOUNTER,
        resource_id=encounter_id,
        response={"encounter_id": str(encounter_id), "patient_id": str(patient_id)},
    )


def _booking_authorize(*, actor: Actor, patient_id: int, alias: str) -> None:
    """Row rule of booking (docs/access-policy.md): a patient books for themself, a clinician for a
    patient on their care team. A refused clinician gets the answer of a missing patient (404) and
    the refusal is audited on the patient's shard."""
    if actor.role == PersonaRole.PATIENT and actor.patient_id != patient_id:
        raise NotOwnPatient("A patient persona may book encounters only for its own patient record.")
    if actor.role != PersonaRole.CLINICIAN:
        return
    if clinician_on_care_team(clinician_user_id=actor.user_id, patient_id=patient_id, using=alias):
        return
    if Patient.objects.using(alias).filter(pk=patient_id).exists():
        audit_access_record(
            using=alias,
            patient_id=patient_id,
            action=AuditAction.ENCOUNTER_BOOKED,
            resource_type=ResourceType.PATIENT,
            resource_id=patient_id,
            actor=actor,
            purpose="treatment",
            outcome=AuditOutcome.DENIED,
            detail={"reason": "clinician not on the patient's care team"},
        )
    raise NotFound(
        f"No patient {patient_id} is visible to you.",
        remediation="Clinicians book for patients on their care team; ask the patient's care team to book.",
        field="patient_id",
    )


def _booking_validate(*, actor: Actor, encounter_type: str, reason: str, requested_start: datetime) -> None:
    errors: dict[str, list[str]] = {}
    if encounter_type not in EncounterType.values:
        errors["encounter_type"] = [f"Choose one of: {', '.join(EncounterType.values)}."]
    if not reason or not reason.strip():
        errors["reason"] = ["Say briefly why the visit is needed."]
    elif len(reason) > Encounter._meta.get_field("reason").max_length:
        errors["reason"] = ["Keep the reason under 500 characters."]
    if timezone.is_naive(requested_start):
        errors["requested_start"] = ["Give a time zone, e.g. 2030-01-31T09:30:00Z."]
    elif requested_start <= timezone.now():
        errors["requested_start"] = ["The requested slot must be in the future."]
    if actor.user_id is None:
        errors["actor"] = ["Bookings are made by a user with a persona."]
    if errors:
        raise BookingInvalid(errors)


def _booking_retrying(alias: str):
    def on_retry(error: BaseException, attempt: int, sleep_s: float) -> None:
        ENCOUNTER_WRITE_RETRIES_TOTAL.labels(shard_id=alias, error=type(error).__name__).inc()
        logger.warning(
            "encounter_write_retry",
            shard_id=alias,
            attempt=attempt,
            error_class=type(error).__name__,
            sleep_s=round(sleep_s, 3),
        )

    return transient_sql_retrying(
        alias=alias,
        attempts=settings.PIMLAB_BOOKING_RETRY_ATTEMPTS,
        budget_seconds=settings.PIMLAB_BOOKING_RETRY_BUDGET_SECONDS,
        max_wait_seconds=settings.PIMLAB_BOOKING_RETRY_MAX_WAIT_SECONDS,
        on_retry=on_retry,
    )


def _booking_write_or_replay(
    *,
    alias: str,
    actor: Actor,
    patient_id: int,
    idempotency_key: str,
    request_fingerprint: str,
    **fields,
) -> EncounterBooking:
    """Write the booking on the shard. The shard's own (booked_by_user_id, idempotency_key)
    constraint still catches a key the catalog does not know (a booking whose catalog commit was
    lost, or one made before the registry): that booking is replayed, or refused if it differs."""
    try:
        return _booking_write_with_retries(
            alias=alias,
            actor=actor,
            patient_id=patient_id,
            idempotency_key=idempotency_key,
            request_fingerprint=request_fingerprint,
            **fields,
        )
    except IntegrityError:
        return _booking_replay(
            alias=alias,
            actor=actor,
            patient_id=patient_id,
            idempotency_key=idempotency_key,
            request_fingerprint=request_fingerprint,
        )


def _booking_replay_recorded(entry) -> EncounterBooking:
    """The first answer to this key, from the registry: the encounter it booked, read on the shard
    its id names under today's shard map (a remap since the booking moves it, not the key)."""
    encounter = Encounter.objects.using(shard_for_id(entry.resource_id)).filter(pk=entry.resource_id).first()
    if encounter is None:
        raise Gone(
            f"The encounter first booked with this Idempotency-Key ({entry.resource_id}) no longer exists.",
            remediation="Send a new Idempotency-Key to book a new encounter.",
        )
    event = encounter_booking_event(encounter=encounter)
    tracking_id, event_status = event if event else ("", "unknown")
    return EncounterBooking(encounter=encounter, created=False, tracking_id=tracking_id, event_status=event_status)


def _booking_write_with_retries(*, alias: str, **fields) -> EncounterBooking:
    for attempt in _booking_retrying(alias):
        with attempt:
            return _booking_write(alias=alias, **fields)
    raise AssertionError("unreachable: Retrying re-raises the last error")  # pragma: no cover


def _booking_write(
    *,
    alias: str,
    actor: Actor,
    encounter_id: int,
    patient_id: int,
    encounter_type: str,
    reason: str,
    requested_start: datetime,
    idempotency_key: str,
    request_fingerprint: str,
) -> EncounterBooking:
    with transaction.atomic(using=alias):
        with participant_span(Participant.PATIENT_REPOSITORY_ADAPTER):
            encounter = Encounter(
                id=encounter_id,
                patient_id=patient_id,
                encounter_type=encounter_type,
                reason=reason,
                requested_start=requested_start,
                status=EncounterStatus.BOOKED,
                booked_by_user_id=actor.user_id,
                idempotency_key=idempotency_key,
                request_fingerprint=request_fingerprint,
            )
            with participant_span(Participant.SQL_SHARD_PRIMARY):
                # The unique (booked_by_user_id, idempotency_key) constraint makes a concurrent
                # duplicate fail here (IntegrityError), never a check-then-insert race.
                encounter.save(using=alias, force_insert=True)
        change = change_record(
            using=alias,
            actor=actor,
            patient_id=patient_id,
            action=AuditAction.ENCOUNTER_BOOKED,
            resource_type=ResourceType.ENCOUNTER,
            resource_id=encounter.id,
            detail={"encounter_type": encounter_type},
            event_type=EventType.ENCOUNTER_CREATED,
            payload={
                "encounter_id": str(encounter.id),
                "patient_id": str(patient_id),
                "encounter_type": encounter_type,
                "requested_start": requested_start.isoformat(),
                "status": encounter.status,
                "booked_by_user_id": str(actor.user_id),
                "booked_by_role": actor.role,
            },
        )
    return EncounterBooking(
        encounter=encounter, created=True, tracking_id=str(change.outbox_event.id), event_status=OutboxStatus.PENDING
    )


def _booking_replay(
    *, alias: str, actor: Actor, patient_id: int, idempotency_key: str, request_fingerprint: str
) -> EncounterBooking:
    """The insert hit a constraint: either the key was used before, or the patient does not exist."""
    existing = encounter_find_by_idempotency_key(
        using=alias, booked_by_user_id=actor.user_id, idempotency_key=idempotency_key
    )
    if existing is None:
        if not Patient.objects.using(alias).filter(pk=patient_id).exists():
            raise PatientNotFound(field="patient_id")
        raise IntegrityError("booking failed a constraint other than the idempotency key")
    if existing.request_fingerprint != request_fingerprint:
        raise IdempotencyKeyReused()
    event = encounter_booking_event(encounter=existing)
    tracking_id, event_status = event if event else ("", "unknown")
    return EncounterBooking(encounter=existing, created=False, tracking_id=tracking_id, event_status=event_status)


def booking_keys_on_shard(*, alias: str) -> list[RecordedKey]:
    """The Idempotency-Keys the bookings on ``alias`` hold (for the registry's backfill)."""
    rows = (
        Encounter.objects.using(alias)
        .exclude(booked_by_user_id=None)
        .order_by("created_at", "id")
        .values_list("booked_by_user_id", "idempotency_key", "request_fingerprint", "id", "patient_id")
    )
    return [
        RecordedKey(
            caller=idempotency_caller(Actor(user_id=user_id, role="")),
            key=key,
            scope=BOOKING_SCOPE,
            fingerprint=fingerprint,
            shard_alias=alias,
            resource_type=ResourceType.ENCOUNTER,
            resource_id=encounter_id,
            response={"encounter_id": str(encounter_id), "patient_id": str(patient_id)},
        )
        for user_id, key, fingerprint, encounter_id, patient_id in rows
    ]


# --- visit completion --------------------------------------------------------------------------


def encounter_finish(*, encounter_id: int, actor: Actor) -> tuple[Encounter, bool]:
    """A clinician on the patient's care team (or assigned to the visit) marks it finished, so it
    can be billed. One transaction on the patient's shard: status, history row, AUDIT_EVENT and an
    ``EncounterFinished`` outbox row. Finishing a finished encounter changes nothing (returns False)."""
    alias = shard_for_id(encounter_id)
    context.bind(shard_id=alias)
    with participant_span(Participant.ENCOUNTER_ORCHESTRATOR, operation="finish"), transaction.atomic(using=alias):
        encounter = Encounter.objects.using(alias).select_for_update().filter(pk=encounter_id).first()
        if encounter is None:
            raise EncounterNotFinishableByActor(f"No encounter {encounter_id} is visible to you.")
        if (
            actor.role != "clinician"
            or clinician_relation(clinician_user_id=actor.user_id, encounter=encounter) is None
        ):
            raise EncounterNotFinishableByActor(f"No encounter {encounter_id} is visible to you.")
        if encounter.status == EncounterStatus.FINISHED:
            return encounter, False
        if encounter.status == EncounterStatus.CANCELLED:
            raise EncounterNotFinishable("A cancelled encounter cannot be finished.")
        if encounter.requested_start > timezone.now():
            raise EncounterNotStarted(
                f"The visit starts at {encounter.requested_start:%Y-%m-%d %H:%M} UTC; "
                "it cannot be finished before it starts."
            )
        encounter.status = EncounterStatus.FINISHED
        encounter.save(using=alias, update_fields=["status", "updated_at"])
        change_record(
            using=alias,
            actor=actor,
            patient_id=encounter.patient_id,
            action=AuditAction.ENCOUNTER_FINISHED,
            resource_type=ResourceType.ENCOUNTER,
            resource_id=encounter.id,
            event_type=EventType.ENCOUNTER_FINISHED,
            payload={"encounter_id": str(encounter.id), "patient_id": str(encounter.patient_id), "status": "finished"},
        )
    logger.info("encounter_finished", shard_id=alias, encounter_id=str(encounter.id), actor_role=actor.role)
    return encounter, True
