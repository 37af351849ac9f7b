"""Refusals of the clinical-notes use cases (read, update, history)."""

from __future__ import annotations

from apps.core.errors import (
    BadRequest,
    DependencyUnavailable,
    InvalidInput,
    NotFound,
    PermissionRefused,
    PreconditionFailed,
    PreconditionRequired,
)


def note_etag(version: int) -> str:
    return f'"note-v{version}"'


class NoteNotVisible(NotFound):
    """No such encounter, or the user may not see its note: one answer, so no existence oracle."""

    remediation = "Check the id; clinical notes are visible only to the patient's care team."
    default_detail = "No encounter note with this id is available to you."


class NoteNotReleased(NotFound):
    code = "note_not_released"
    title = "Note not released"
    remediation = "Check again later; released notes appear here."
    default_detail = "Your clinician has not released the note of this encounter yet."


class NoteReadOnly(PermissionRefused):
    code = "permission_denied"
    title = "Notes are read-only for you"
    remediation = "Ask your care team to amend the note."
    default_detail = "Patients can read their released notes but cannot change them."


class NoteIfMatchRequired(PreconditionRequired):
    title = "If-Match required"
    remediation = "GET the note, then send its ETag in an If-Match header with your PATCH."
    default_detail = "Note updates must say which version they change."


class NoteVersionConflict(PreconditionFailed):
    """The client's If-Match names a version that is no longer current."""

    code = "version_conflict"
    title = "The note has changed"
    remediation = "GET the note again, merge your change into the current text, and PATCH with the new ETag."

    def __init__(self, *, current_version: int):
        super().__init__(
            f"Your If-Match does not name the current version of this note (version {current_version}).",
            headers={"ETag": note_etag(current_version)},
            extra={"current_version": current_version},
        )
        self.current_version = current_version


class NoteContextMissing(InvalidInput):
    """The change is not allowed in the note's current state without more information (FR-07.4)."""

    code = "note_missing_context"
    type = "https://pimlab.dev/problems/note-missing-context"
    title = "The note change needs more context"

    def __init__(self, *, detail: str, remediation: str, missing: list[str], current_version: int):
        super().__init__(
            detail, remediation=remediation, extra={"missing": missing, "current_version": current_version}
        )


class TemporalHistoryUnavailable(DependencyUnavailable):
    code = "temporal_history_unavailable"
    title = "Note history unavailable"
    remediation = "Retry after the number of seconds in Retry-After; the on-call SRE has been paged."
    default_detail = "The note's history could not be recorded, so nothing was saved."
    dependency = "temporal_history"


class NoteAsOfInvalid(BadRequest):
    code = "invalid_as_of"
    title = "Invalid as_of"
    remediation = "Send as_of like 2025-05-19T14:30:00Z (URL-encode the '+' of an offset as %2B)."

    def __init__(self, value: str):
        super().__init__(f"{value!r} is not an ISO 8601 timestamp.")


class NoteNotFoundAsOf(NotFound):
    code = "not_found_as_of"
    title = "No note at that time"
    remediation = "Choose an as_of after the encounter was booked (see the history list)."
    default_detail = "The encounter did not exist yet at the requested time."
