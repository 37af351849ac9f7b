"""Refusals of the encounter use cases (booking, viewing, finishing a visit)."""

from __future__ import annotations

from apps.core.errors import BadRequest, Conflict, InvalidInput, NotFound, PermissionRefused


class IdempotencyKeyRequired(BadRequest):
    code = "idempotency_key_required"
    title = "Idempotency-Key header required"
    remediation = (
        "Send a fresh Idempotency-Key (for example a UUID) per booking; reuse it only to retry the very same request."
    )


class BookingInvalid(InvalidInput):
    code = "booking_invalid"
    title = "Booking rejected"

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__(
            "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items()), extra={"errors": errors}
        )


class PatientNotFound(InvalidInput):
    code = "patient_not_found"
    title = "Unknown patient"
    remediation = "Use the id of an existing patient (GET the patient first)."
    default_detail = "No patient has this id."


class NotOwnPatient(PermissionRefused):
    code = "not_own_patient"
    title = "Patients book only for themselves"
    remediation = "Use your own patient_id, or ask a clinician to book on the patient's behalf."


class EncounterNotVisible(NotFound):
    """No such encounter, or the actor may not see it (one answer: no existence leak)."""

    remediation = "Check the id (use the Location header returned by the booking)."


class BreakGlassReasonTooShort(InvalidInput):
    """A break-glass reason a privacy officer could not act on ("x", "need it"). Refused before any
    lookup, so the answer is the same whether the encounter exists or not."""

    code = "break_glass_reason_too_short"
    title = "Break-glass reason too short"
    remediation = (
        "Say what the emergency is, for example “Unconscious in the emergency department, no relatives reachable”."
    )


class EncounterNotFinishable(Conflict):
    """The visit cannot be finished (it was cancelled)."""

    code = "not_finishable"
    title = "Encounter cannot be finished"
    remediation = "Book a new encounter; a cancelled visit stays cancelled."


class EncounterNotStarted(EncounterNotFinishable):
    """A visit is finished after it starts: finishing it earlier would bill care not yet given."""

    code = "encounter_not_started"
    title = "Visit has not started yet"
    remediation = "Finish the visit once its requested start has passed."


class EncounterNotFinishableByActor(NotFound, EncounterNotFinishable):
    """No such encounter, or the actor is not a clinician on the patient's care team: answered as
    a missing encounter (no existence leak), still a reason the visit cannot be finished."""

    remediation = "Check the id; only a clinician on the patient's care team can finish the visit."
