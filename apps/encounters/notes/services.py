"""Writes for clinical notes (seed "Clinician Documents Encounter").

``encounter_note_update`` is the use case behind PATCH /api/encounters/{id}/notes: under the
encounter's row lock it checks access (a refusal is audited), the If-Match version and the
Command Validator's rules, then writes the note, its temporal history row and its AUDIT_EVENT in
ONE transaction on the patient's shard. Reads of a note and of its history are audited too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import structlog
from django.db import DatabaseError, transaction
from django.utils import timezone

from apps.audits.models import AuditOutcome
from apps.audits.vocabulary import AuditAction, ResourceType
from apps.core.actors import Actor
from apps.core.resolver import shard_for_id
from apps.outbox.changes import change_record
from apps.slo.services import alert_event_record
from apps.telemetry import context
from apps.telemetry.spans import participant_span

from ..models import Encounter, NoteStatus
from ..selectors import ENCOUNTER_ROLE_PURPOSE
from .errors import (
    NoteNotFoundAsOf,
    NoteNotReleased,
    NoteNotVisible,
    NoteReadOnly,
    NoteVersionConflict,
    TemporalHistoryUnavailable,
)
from .selectors import (
    NOTE_FIELDS,
    NoteAccess,
    encounter_for_note,
    encounter_lock_for_note,
    encounter_note_as_of,
    encounter_note_history,
    note_access_for,
    note_change_preview,
)
from .telemetry import (
    ENCOUNTER_NOTE_ACCESS_DENIED_TOTAL,
    NOTE_GLOSSARY_FINDINGS_TOTAL,
    NOTE_REDACTIONS_TOTAL,
    SPAN_ORCHESTRATOR,
    SPAN_REPOSITORY,
    SPAN_TEMPORAL_HISTORY,
    SPAN_VALIDATOR,
    TEMPORAL_HISTORY_WRITE_FAILURES_TOTAL,
)
from .validation import NoteChange, ValidatedNote

logger = structlog.get_logger(__name__)

# What a note access check was for (the API's operation) → the audit action it is recorded as.
NOTE_ACCESS_ACTIONS = {
    "read": AuditAction.ENCOUNTER_NOTE_READ,
    "update": AuditAction.ENCOUNTER_NOTE_UPDATED,
    "history": AuditAction.ENCOUNTER_NOTE_HISTORY_READ,
}
TEMPORAL_HISTORY_RUNBOOK = "docs/runbooks/07_temporal-history-repair.md"


class TemporalHistoryWriteFailed(Exception):
    """The history row of a note change could not be written; the change must not commit."""


@dataclass(frozen=True)
class NoteUpdate:
    """What ``encounter_note_update`` returns: the saved encounter and what the validator did."""

    encounter: Encounter
    note: ValidatedNote


@dataclass(frozen=True)
class NoteHistoryRead:
    """Without ``as_of``: every version with diffs. With it: the historical record then in force."""

    encounter: Encounter
    versions: list[dict] | None = None
    record: object | None = None


def encounter_note_access_record(
    *, encounter: Encounter, actor: Actor, operation: str, outcome: str, reason: str = ""
) -> None:
    """Audit a note read or a refused read/change, in its own transaction on the encounter's shard,
    with the purpose of the reader's role (HIPAA 164.312(b))."""
    alias = encounter._state.db
    detail = {"purpose": ENCOUNTER_ROLE_PURPOSE.get(actor.role, "none")}
    if reason:
        detail["reason"] = reason
    with transaction.atomic(using=alias):
        change_record(
            using=alias,
            actor=actor,
            patient_id=encounter.patient_id,
            action=NOTE_ACCESS_ACTIONS[operation],
            resource_type=ResourceType.ENCOUNTER_NOTE,
            resource_id=encounter.id,
            outcome=outcome,
            detail=detail,
        )
    if outcome == AuditOutcome.DENIED:
        ENCOUNTER_NOTE_ACCESS_DENIED_TOTAL.labels(operation=operation, actor_role=actor.role).inc()
        logger.warning(
            "encounter_note_access_denied", encounter_id=str(encounter.id), operation=operation, reason=reason
        )


def _note_refused(*, encounter: Encounter, user, operation: str, reason: str, error: Exception) -> Exception:
    """Audit a refused note access (committed on its own) and return the error to raise."""
    actor = Actor.from_user(user)
    encounter_note_access_record(
        encounter=encounter, actor=actor, operation=operation, outcome=AuditOutcome.DENIED, reason=reason
    )
    return error


def _note_visible(*, encounter_id: int, user, operation: str) -> tuple[Encounter, NoteAccess]:
    """The encounter and the user's access to its note; a refusal is audited and answered as absence."""
    encounter = encounter_for_note(encounter_id=encounter_id)
    if encounter is None:
        raise NoteNotVisible()
    access = note_access_for(user=user, encounter=encounter)
    if not access.visible:
        raise _note_refused(
            encounter=encounter, user=user, operation=operation, reason=access.reason, error=NoteNotVisible()
        )
    return encounter, access


def encounter_note_read(*, encounter_id: int, user) -> Encounter:
    """The encounter whose note ``user`` may read now (audited); patients see released notes only."""
    encounter, access = _note_visible(encounter_id=encounter_id, user=user, operation="read")
    if not access.can_read_drafts and not encounter.note_released:
        raise NoteNotReleased()
    encounter_note_access_record(
        encounter=encounter, actor=Actor.from_user(user), operation="read", outcome=AuditOutcome.SUCCESS
    )
    return encounter


def encounter_note_history_read(*, encounter_id: int, user, as_of: datetime | None = None) -> NoteHistoryRead:
    """The note's versions (or the note as of a time) for the care team, audited. Patients get the
    same answer as a stranger: the history holds drafts they may not read."""
    encounter, access = _note_visible(encounter_id=encounter_id, user=user, operation="history")
    if not access.can_read_drafts:
        raise _note_refused(
            encounter=encounter, user=user, operation="history", reason=access.reason, error=NoteNotVisible()
        )
    encounter_note_access_record(
        encounter=encounter, actor=Actor.from_user(user), operation="history", outcome=AuditOutcome.SUCCESS
    )
    if as_of is None:
        return NoteHistoryRead(encounter=encounter, versions=encounter_note_history(encounter=encounter))
    record = encounter_note_as_of(encounter=encounter, as_of=as_of)
    if record is None:
        raise NoteNotFoundAsOf()
    return NoteHistoryRead(encounter=encounter, record=record)


def encounter_note_update(*, encounter_id: int, user, expected_version: int | None, change: NoteChange) -> NoteUpdate:
    """Use case "Clinician Documents Encounter": in ONE transaction on the patient's shard and under
    the encounter's row lock, check that ``user`` may edit the note, that ``expected_version`` (from
    If-Match) is still current, validate and redact the change (Command Validator), then update the
    note, write its temporal history row and its AUDIT_EVENT. A refusal is audited in its own
    transaction; a failed history write aborts everything (503 + incident)."""
    actor = Actor.from_user(user)
    alias = shard_for_id(encounter_id)
    context.bind(shard_id=alias)
    refusal: tuple[Encounter, NoteAccess] | None = None
    try:
        with transaction.atomic(using=alias):
            encounter = encounter_lock_for_note(alias=alias, encounter_id=encounter_id, user=user)
            if encounter is None:
                raise NoteNotVisible()
            access = note_access_for(user=user, encounter=encounter)
            if not access.can_edit:
                refusal = (encounter, access)  # audited below, after this transaction releases the lock
            else:
                note = _note_change_validate(encounter, expected_version=expected_version, change=change)
                _note_write(encounter, alias=alias, actor=actor, note=note)
    except TemporalHistoryWriteFailed as exc:
        _temporal_history_incident(encounter_id=encounter_id, shard_alias=alias, cause=exc.__cause__)
        raise TemporalHistoryUnavailable() from exc
    if refusal is not None:
        encounter, access = refusal
        error = NoteReadOnly() if access.visible else NoteNotVisible()
        raise _note_refused(encounter=encounter, user=user, operation="update", reason=access.reason, error=error)
    _note_update_observe(encounter, note=note)
    return NoteUpdate(encounter=encounter, note=note)


def _note_change_validate(encounter: Encounter, *, expected_version: int | None, change: NoteChange) -> ValidatedNote:
    if expected_version != encounter.note_version:
        raise NoteVersionConflict(current_version=encounter.note_version)
    # The seed's diagram: the controller asks the Command Validator before invoking the orchestrator.
    with participant_span(SPAN_VALIDATOR, encounter_id=encounter.id):
        return note_change_preview(encounter=encounter, change=change)


def _note_write(encounter: Encounter, *, alias: str, actor: Actor, note: ValidatedNote) -> None:
    with participant_span(SPAN_ORCHESTRATOR, encounter_id=encounter.id):
        now = timezone.now()
        with participant_span(SPAN_REPOSITORY, encounter_id=encounter.id):
            _note_fields_apply(encounter, note=note, actor=actor, when=now)
            _encounter_save_without_history(encounter, using=alias)
            with participant_span(SPAN_TEMPORAL_HISTORY, encounter_id=encounter.id):
                _temporal_history_write(encounter, using=alias, actor=actor, note=note, when=now)
        change_record(
            using=alias,
            actor=actor,
            patient_id=encounter.patient_id,
            action=_note_action(note),
            resource_type=ResourceType.ENCOUNTER_NOTE,
            resource_id=encounter.id,
            detail=_audit_detail(encounter, note),
        )


def _note_update_observe(encounter: Encounter, *, note: ValidatedNote) -> None:
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


def _verb(note: ValidatedNote) -> str:
    return "sign" if note.status == NoteStatus.SIGNED else "update"


def _note_action(note: ValidatedNote) -> AuditAction:
    if note.is_amendment:
        return AuditAction.ENCOUNTER_NOTE_AMENDED
    if note.status == NoteStatus.SIGNED:
        return AuditAction.ENCOUNTER_NOTE_SIGNED
    return AuditAction.ENCOUNTER_NOTE_UPDATED


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
