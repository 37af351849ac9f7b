from __future__ import annotations

import hashlib

import structlog
from django.db import DatabaseError, transaction
from django.utils import timezone
from rest_framework import status

from apps.audits.models import AuditOutcome
from apps.audits.services import audit_event_record
from apps.core.actors import Actor
from apps.core.api_errors import Problem
from apps.core.resolver import shard_for_id
from apps.slo.services import alert_event_record
from apps.telemetry import context

from .models import Encounter, NoteStatus
from .note_selectors import NOTE_FIELDS
from .note_telemetry import (
    ENCOUNTER_NOTE_ACCESS_DENIED_TOTAL,
    NOTE_GLOSSARY_FINDINGS_TOTAL,
    NOTE_REDACTIONS_TOTAL,
    SPAN_ORCHESTRATOR,
    SPAN_REPOSITORY,
    SPAN_TEMPORAL_HISTORY,
    TEMPORAL_HISTORY_WRITE_FAILURES_TOTAL,
    note_span,
)
from .note_validation import ValidatedNote

logger = structlog.get_logger(__name__)


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
    with note_span(SPAN_ORCHESTRATOR, encounter_id=encounter_id):
        try:
            with transaction.atomic(using=alias):
                encounter = Encounter.objects.using(alias).select_for_update().get(id=encounter_id)
                if encounter.note_version != expected_version:
                    raise NoteVersionConflict(current_version=encounter.note_version)
                now = timezone.now()
                with note_span(SPAN_REPOSITORY, encounter_id=encounter_id):
                    _note_fields_apply(encounter, note=note, actor=actor, when=now)
                    _encounter_save_without_history(encounter, using=alias)
                    with note_span(SPAN_TEMPORAL_HISTORY, encounter_id=encounter_id):
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
