"""Writes for encounters.

Booking (seed "Patient Books Encounter"): ``encounter_book`` is the Patient Orchestrator. It
resolves the patient's shard, then writes the encounter (with its history row), its AUDIT_EVENT
and its ``EncounterCreated`` outbox row in ONE transaction on that shard, retrying transient SQL
errors with exponential back-off and jitter.

Clinical notes (seed "Clinician Documents Encounter") follow in their own section.
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
from rest_framework import status

from apps.audits.models import AuditOutcome
from apps.audits.services import audit_access_record, audit_event_record
from apps.core.actors import Actor
from apps.core.api_errors import Problem
from apps.core.errors import NotFound, PermissionRefused
from apps.core.ids import bucket_of
from apps.core.models import PersonaRole
from apps.core.redaction import phi_redact
from apps.core.resolver import shard_for_bucket, shard_for_id
from apps.core.sql_retry import transient_sql_retrying
from apps.outbox.models import OutboxStatus
from apps.outbox.services import outbox_event_record
from apps.outbox.tasks import outbox_relay_nudge_on_commit
from apps.patients.models import Patient
from apps.slo.services import alert_event_record
from apps.telemetry import context
from apps.telemetry.spans import participant_span

from .metrics import ENCOUNTER_WRITE_LATENCY, ENCOUNTER_WRITE_RETRIES_TOTAL
from .models import Encounter, EncounterStatus, EncounterType, NoteStatus
from .notes.selectors import NOTE_FIELDS, note_change_preview
from .notes.telemetry import (
    ENCOUNTER_NOTE_ACCESS_DENIED_TOTAL,
    NOTE_GLOSSARY_FINDINGS_TOTAL,
    NOTE_REDACTIONS_TOTAL,
    SPAN_ORCHESTRATOR,
    SPAN_REPOSITORY,
    SPAN_TEMPORAL_HISTORY,
    SPAN_VALIDATOR,
    TEMPORAL_HISTORY_WRITE_FAILURES_TOTAL,
)
from .notes.validation import NoteChange, ValidatedNote
from .profiling import profile_tags
from .selectors import (
    ENCOUNTER_CREATED,
    clinician_on_care_team,
    clinician_relation,
    encounter_booking_event,
    encounter_find_by_idempotency_key,
)

logger = structlog.get_logger(__name__)


# --- booking ---------------------------------------------------------------------------------


class EncounterBookingError(Exception):
    """A booking the orchestrator refuses; the API maps each subclass to a 4xx problem."""


class BookingInvalid(EncounterBookingError):
    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items()))


class PatientNotFound(EncounterBookingError):
    pass


class IdempotencyKeyConflict(EncounterBookingError):
    pass


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
    request_fingerprint: str,
) -> EncounterBooking:
    """Book an encounter for ``patient_id`` on behalf of ``actor`` (authorization is the caller's job).

    Returns an ``EncounterBooking`` (``encounter, created = encounter_book(...)`` also works).
    Raises ``BookingInvalid`` (bad fields), ``PatientNotFound``, ``IdempotencyKeyConflict`` (key
    reused for a different request), ``ShardMapMissing``, or the last transient ``DatabaseError``
    once the retry budget is spent — in every case nothing is written. Identifiers in ``reason``
    are masked before anything is stored (apps.core.redaction)."""
    reason, _ = phi_redact(reason)
    _booking_validate(
        actor=actor,
        encounter_type=encounter_type,
        reason=reason,
        requested_start=requested_start,
        idempotency_key=idempotency_key,
    )
    with participant_span("Patient Orchestrator"), profile_tags(scenario="encounter_book", actor_role=actor.role):
        with participant_span("Shard Resolver", refresh_labels=True):
            alias = shard_for_bucket(bucket_of(patient_id))
            context.bind(shard_id=alias)
        _booking_authorize(actor=actor, patient_id=patient_id, alias=alias)
        started = time.perf_counter()
        outcome = "failed"
        try:
            try:
                booking = _booking_write_with_retries(
                    alias=alias,
                    actor=actor,
                    patient_id=patient_id,
                    encounter_type=encounter_type,
                    reason=reason,
                    requested_start=requested_start,
                    idempotency_key=idempotency_key,
                    request_fingerprint=request_fingerprint,
                )
                outcome = "created"
            except IntegrityError:
                booking = _booking_replay(
                    alias=alias,
                    actor=actor,
                    patient_id=patient_id,
                    idempotency_key=idempotency_key,
                    request_fingerprint=request_fingerprint,
                )
                outcome = "replayed"
        except IdempotencyKeyConflict:
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


def _booking_authorize(*, actor: Actor, patient_id: int, alias: str) -> None:
    """Row rule of booking (docs/access-policy.md): a patient books for themself, a clinician for a
    patient on their care team. A refused clinician gets the answer of a missing patient (404) and
    the refusal is audited on the patient's shard."""
    if actor.role == PersonaRole.PATIENT and actor.patient_id != patient_id:
        raise PermissionRefused(
            "A patient persona may book encounters only for its own patient record.",
            title="Patients book only for themselves",
            remediation="Use your own patient_id, or ask a clinician to book on the patient's behalf.",
            code="not_own_patient",
        )
    if actor.role != PersonaRole.CLINICIAN:
        return
    if clinician_on_care_team(clinician_user_id=actor.user_id, patient_id=patient_id, using=alias):
        return
    if Patient.objects.using(alias).filter(pk=patient_id).exists():
        audit_access_record(
            using=alias,
            patient_id=patient_id,
            action="encounter.book",
            resource_type="Patient",
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


def _booking_validate(*, actor: Actor, encounter_type: str, reason: str, requested_start: datetime, idempotency_key):
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
    if not idempotency_key or len(idempotency_key) > Encounter._meta.get_field("idempotency_key").max_length:
        errors["idempotency_key"] = ["Send an Idempotency-Key of 1–128 characters."]
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
        on_retry=on_retry,
    )


def _booking_write_with_retries(*, alias: str, **fields) -> EncounterBooking:
    for attempt in _booking_retrying(alias):
        with attempt:
            return _booking_write(alias=alias, **fields)
    raise AssertionError("unreachable: Retrying re-raises the last error")  # pragma: no cover


def _booking_write(
    *,
    alias: str,
    actor: Actor,
    patient_id: int,
    encounter_type: str,
    reason: str,
    requested_start: datetime,
    idempotency_key: str,
    request_fingerprint: str,
) -> EncounterBooking:
    with transaction.atomic(using=alias):
        with participant_span("Patient Repository Adapter"):
            encounter = Encounter(
                patient_id=patient_id,
                encounter_type=encounter_type,
                reason=reason,
                requested_start=requested_start,
                status=EncounterStatus.BOOKED,
                booked_by_user_id=actor.user_id,
                idempotency_key=idempotency_key,
                request_fingerprint=request_fingerprint,
            )
            encounter.assign_id(bucket_of(patient_id))
            with participant_span("SQL"):
                # The unique (booked_by_user_id, idempotency_key) constraint makes a concurrent
                # duplicate fail here (IntegrityError), never a check-then-insert race.
                encounter.save(using=alias, force_insert=True)
                audit_event_record(
                    using=alias,
                    patient_id=patient_id,
                    action="encounter.booked",
                    resource_type="Encounter",
                    resource_id=encounter.id,
                    actor=actor,
                    detail={"encounter_type": encounter_type},
                )
        with participant_span("Outbox Writer"):
            event = outbox_event_record(
                using=alias,
                aggregate_type="Patient",
                aggregate_id=patient_id,
                event_type=ENCOUNTER_CREATED,
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
        outbox_relay_nudge_on_commit(using=alias)
    return EncounterBooking(
        encounter=encounter, created=True, tracking_id=str(event.id), event_status=OutboxStatus.PENDING
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
            raise PatientNotFound(f"No patient {patient_id} on {alias}.")
        raise IntegrityError("booking failed a constraint other than the idempotency key")
    if existing.request_fingerprint != request_fingerprint:
        raise IdempotencyKeyConflict(
            f"Idempotency-Key was already used by this user for a different booking (encounter {existing.id})."
        )
    event = encounter_booking_event(encounter=existing)
    tracking_id, event_status = event if event else ("", "unknown")
    return EncounterBooking(encounter=existing, created=False, tracking_id=tracking_id, event_status=event_status)


# --- Clinical notes (scenario "Clinician Documents Encounter") ---------------------------------
NOTE_RESOURCE_TYPE = "encounter_note"
TEMPORAL_HISTORY_RUNBOOK = "docs/runbooks/07_temporal-history-repair.md"


class NoteVersionConflict(Exception):
    """The client's If-Match names a version that is no longer current."""

    def __init__(self, *, current_version: int):
        super().__init__(f"current note version is {current_version}")
        self.current_version = current_version


class TemporalHistoryWriteFailed(Exception):
    """The history row of a note change could not be written; the change must not commit."""


class TemporalHistoryUnavailable(Problem):
    def __init__(self):
        super().__init__(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            title="Note history unavailable",
            detail="The note's history could not be recorded, so nothing was saved.",
            remediation="Retry after the number of seconds in Retry-After; the on-call SRE has been paged.",
            code="temporal_history_unavailable",
        )


def encounter_note_access_record(
    *, encounter: Encounter, actor: Actor, operation: str, outcome: str, reason: str = ""
) -> None:
    """Audit a note read or a refused read/change, in its own transaction on the encounter's shard."""
    alias = encounter._state.db
    with transaction.atomic(using=alias):
        audit_event_record(
            using=alias,
            patient_id=encounter.patient_id,
            action=f"encounter.note.{operation}",
            resource_type=NOTE_RESOURCE_TYPE,
            resource_id=encounter.id,
            actor=actor,
            outcome=outcome,
            detail={"reason": reason} if reason else {},
        )
    if outcome == AuditOutcome.DENIED:
        ENCOUNTER_NOTE_ACCESS_DENIED_TOTAL.labels(operation=operation, actor_role=actor.role).inc()
        logger.warning(
            "encounter_note_access_denied", encounter_id=str(encounter.id), operation=operation, reason=reason
        )


def encounter_note_update(*, encounter_id: int, actor: Actor, expected_version: int, note: ValidatedNote) -> Encounter:
    """Orchestrator: in ONE transaction on the patient's shard, update the note (under a row lock,
    only if ``expected_version`` is still current), write its temporal history row and its
    AUDIT_EVENT. Any failure of the history write aborts everything (503 + incident)."""
    alias = shard_for_id(encounter_id)
    context.bind(shard_id=alias)
    with participant_span(SPAN_ORCHESTRATOR, encounter_id=encounter_id):
        try:
            with transaction.atomic(using=alias):
                encounter = Encounter.objects.using(alias).select_for_update().get(id=encounter_id)
                if encounter.note_version != expected_version:
                    raise NoteVersionConflict(current_version=encounter.note_version)
                now = timezone.now()
                with participant_span(SPAN_REPOSITORY, encounter_id=encounter_id):
                    _note_fields_apply(encounter, note=note, actor=actor, when=now)
                    _encounter_save_without_history(encounter, using=alias)
                    with participant_span(SPAN_TEMPORAL_HISTORY, encounter_id=encounter_id):
                        _temporal_history_write(encounter, using=alias, actor=actor, note=note, when=now)
                audit_event_record(
                    using=alias,
                    patient_id=encounter.patient_id,
                    action="encounter.note.amend" if note.is_amendment else f"encounter.note.{_verb(note)}",
                    resource_type=NOTE_RESOURCE_TYPE,
                    resource_id=encounter.id,
                    actor=actor,
                    detail=_audit_detail(encounter, note),
                )
        except TemporalHistoryWriteFailed as exc:
            _temporal_history_incident(encounter_id=encounter_id, shard_alias=alias, cause=exc.__cause__)
            raise TemporalHistoryUnavailable() from exc
    for redaction in note.redactions:
        NOTE_REDACTIONS_TOTAL.labels(kind=redaction.kind).inc(redaction.count)
    if note.normalised:
        NOTE_GLOSSARY_FINDINGS_TOTAL.labels(action="normalise").inc(sum(f.count for f in note.normalised))
    if note.flagged:
        NOTE_GLOSSARY_FINDINGS_TOTAL.labels(action="flag").inc(sum(f.count for f in note.flagged))
    # Never the text: only its shape.
    logger.info(
        "encounter_note_updated",
        encounter_id=str(encounter.id),
        note_version=encounter.note_version,
        note_status=encounter.note_status,
        released=encounter.note_released,
        amendment=note.is_amendment,
        redactions={r.kind: r.count for r in note.redactions},
        glossary_normalised=len(note.normalised),
        glossary_flagged=len(note.flagged),
    )
    return encounter


def encounter_note_change(
    *, encounter: Encounter, actor: Actor, expected_version: int, change: NoteChange
) -> tuple[Encounter, ValidatedNote]:
    """Validate a clinician's change (redaction, glossary, missing context) against the current
    note, then save it with ``encounter_note_update``. Raises ``NoteVersionConflict`` when
    ``expected_version`` is no longer current, ``NoteContextMissing`` when the change lacks context.
    The caller has checked the actor may edit (``note_access_for``)."""
    if expected_version != encounter.note_version:
        raise NoteVersionConflict(current_version=encounter.note_version)
    with participant_span(SPAN_VALIDATOR, encounter_id=encounter.id):
        validated = note_change_preview(encounter=encounter, change=change)
    updated = encounter_note_update(
        encounter_id=encounter.id, actor=actor, expected_version=expected_version, note=validated
    )
    return updated, validated


def _verb(note: ValidatedNote) -> str:
    return "sign" if note.status == NoteStatus.SIGNED else "update"


def _note_fields_apply(encounter: Encounter, *, note: ValidatedNote, actor: Actor, when) -> None:
    encounter.note_text = note.text
    encounter.note_status = note.status
    encounter.note_released = note.released
    if note.is_amendment:
        encounter.note_amendment_reason = note.amendment_reason
    encounter.note_version += 1
    encounter.note_updated_by_user_id = actor.user_id
    encounter.note_updated_at = when


def _encounter_save_without_history(encounter: Encounter, *, using: str) -> None:
    # The history row is written explicitly next, so that its failure is seen (and traced) as such.
    encounter.skip_history_when_saving = True
    try:
        encounter.save(using=using, update_fields=[*NOTE_FIELDS, "updated_at"])
    finally:
        del encounter.skip_history_when_saving


def _temporal_history_write(encounter: Encounter, *, using: str, actor: Actor, note: ValidatedNote, when) -> None:
    historical_model = Encounter.history.model
    values = {field.attname: getattr(encounter, field.attname) for field in historical_model.tracked_fields}
    reason = note.amendment_reason if note.is_amendment else f"note {_verb(note)}"
    record = historical_model(
        history_date=when,
        history_type="~",
        history_user_id=actor.user_id,
        history_change_reason=reason[:100],
        **values,
    )
    try:
        # No savepoint of its own: a failure here must (and does) abort the caller's whole transaction.
        record.save(using=using)
    except DatabaseError as exc:
        raise TemporalHistoryWriteFailed("temporal history insert failed") from exc


def _audit_detail(encounter: Encounter, note: ValidatedNote) -> dict:
    return {
        "note_version": encounter.note_version,
        "note_status": encounter.note_status,
        "released": encounter.note_released,
        "amendment": note.is_amendment,
        # A digest lets an auditor match the note to its history row without copying the text here.
        "text_sha256": hashlib.sha256(encounter.note_text.encode()).hexdigest(),
        "text_length": len(encounter.note_text),
        "redactions": {r.kind: r.count for r in note.redactions},
        "glossary": {"normalised": len(note.normalised), "flagged": len(note.flagged)},
    }


def _temporal_history_incident(*, encounter_id: int, shard_alias: str, cause: BaseException | None) -> None:
    TEMPORAL_HISTORY_WRITE_FAILURES_TOTAL.labels(shard_id=shard_alias).inc()
    # The database's message can quote the failing row (the note text): log only its class and code.
    error = {"error": type(cause).__name__ if cause else "unknown", "sqlstate": getattr(cause, "sqlstate", None)}
    if cause is not None and getattr(cause, "__cause__", None) is not None:
        error["sqlstate"] = error["sqlstate"] or getattr(cause.__cause__, "sqlstate", None)
    logger.error(
        "temporal_history_write_failed",
        incident=True,
        severity="page",
        encounter_id=str(encounter_id),
        shard_id=shard_alias,
        runbook=TEMPORAL_HISTORY_RUNBOOK,
        **error,
    )
    try:
        alert_event_record(
            name="TemporalHistoryWriteFailed",
            severity="page",
            status="firing",
            labels={"shard_id": shard_alias, "scenario": "clinician_documents_encounter"},
            annotations={
                "summary": "A clinical note update was aborted because its history row could not be written.",
                "runbook": TEMPORAL_HISTORY_RUNBOOK,
                "request_id": context.current()["request_id"] or "",
            },
        )
    except DatabaseError:
        logger.error("temporal_history_incident_alert_not_recorded", shard_id=shard_alias)


# --- end clinical notes --------------------------------------------------------------------------


# --- visit completion --------------------------------------------------------------------------

ENCOUNTER_FINISHED = "EncounterFinished"


class EncounterNotFinishable(EncounterBookingError):
    """The visit cannot be finished (it was cancelled)."""

    status = 409
    code = "not_finishable"
    title = "Encounter cannot be finished"
    remediation = "Book a new encounter; a cancelled visit stays cancelled."


class EncounterNotStarted(EncounterNotFinishable):
    """A visit is finished after it starts: finishing it earlier would bill care not yet given."""

    code = "encounter_not_started"
    title = "Visit has not started yet"
    remediation = "Finish the visit once its requested start has passed."


class EncounterNotVisible(EncounterNotFinishable):
    """No such encounter, or the actor is not a clinician on the patient's care team (no existence leak)."""

    status = 404
    code = "not_found"
    title = "Not found"
    remediation = "Check the id; only a clinician on the patient's care team can finish the visit."


def encounter_finish(*, encounter_id: int, actor: Actor) -> tuple[Encounter, bool]:
    """A clinician on the patient's care team (or assigned to the visit) marks it finished, so it
    can be billed. One transaction on the patient's shard: status, history row, AUDIT_EVENT and an
    ``EncounterFinished`` outbox row. Finishing a finished encounter changes nothing (returns False)."""
    alias = shard_for_id(encounter_id)
    context.bind(shard_id=alias)
    with participant_span("Encounter Orchestrator", operation="finish"), transaction.atomic(using=alias):
        encounter = Encounter.objects.using(alias).select_for_update().filter(pk=encounter_id).first()
        if encounter is None:
            raise EncounterNotVisible(f"Encounter {encounter_id} does not exist.")
        if (
            actor.role != "clinician"
            or clinician_relation(clinician_user_id=actor.user_id, encounter=encounter) is None
        ):
            raise EncounterNotVisible("Only a clinician on the patient's care team may finish the visit.")
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
        audit_event_record(
            using=alias,
            patient_id=encounter.patient_id,
            action="encounter.finish",
            resource_type="Encounter",
            resource_id=encounter.id,
            actor=actor,
        )
        outbox_event_record(
            using=alias,
            aggregate_type="Patient",
            aggregate_id=encounter.patient_id,
            event_type=ENCOUNTER_FINISHED,
            payload={"encounter_id": str(encounter.id), "patient_id": str(encounter.patient_id), "status": "finished"},
        )
        outbox_relay_nudge_on_commit(using=alias)
    logger.info("encounter_finished", shard_id=alias, encounter_id=str(encounter.id), actor_role=actor.role)
    return encounter, True
