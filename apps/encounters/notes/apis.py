"""API controllers for clinical notes (seed participant "Encounter API Controller").

PATCH /api/encounters/{id}/notes           update with If-Match (optimistic concurrency)
GET   /api/encounters/{id}/notes           read (ETag)
GET   /api/encounters/{id}/notes/history   versions with field-level diffs, or ?as_of=<timestamp>
"""

from __future__ import annotations

from datetime import UTC

import structlog
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audits.models import AuditOutcome
from apps.core.actors import Actor
from apps.core.api_errors import Problem, problem_response

from ..models import Encounter, NoteStatus
from ..services import (
    NoteVersionConflict,
    TemporalHistoryUnavailable,
    encounter_note_access_record,
    encounter_note_change,
)
from .selectors import (
    NoteAccess,
    encounter_for_note,
    encounter_note_as_of,
    encounter_note_history,
    note_access_for,
    note_as_dict,
)
from .telemetry import note_request_telemetry
from .validation import NoteChange

logger = structlog.get_logger(__name__)


def note_etag(version: int) -> str:
    return f'"note-v{version}"'


def version_from_if_match(header: str) -> int | None:
    """The version named by an If-Match header, or None if it names none we issued."""
    for tag in header.split(","):
        tag = tag.strip()
        if tag.startswith('"note-v') and tag.endswith('"') and tag[7:-1].isdigit():
            return int(tag[7:-1])
    return None


def _not_found() -> Problem:
    return Problem(
        status_code=status.HTTP_404_NOT_FOUND,
        title="Not found",
        detail="No encounter note with this id is available to you.",
        remediation="Check the id; clinical notes are visible only to the patient's care team.",
        code="not_found",
    )


class _NoteController(APIView):
    """Opens the controller span and, at the end, the telemetry interceptor span of every note call."""

    operation = "read"

    def dispatch(self, request, *args, **kwargs):
        with note_request_telemetry(operation=self.operation, encounter_id=kwargs.get("encounter_id")) as note_request:
            response = super().dispatch(request, *args, **kwargs)
            note_request.status_code = response.status_code
        return response

    def encounter_visible_to(self, request, encounter_id: int, *, operation: str) -> tuple[Encounter, NoteAccess]:
        encounter = encounter_for_note(encounter_id=encounter_id)
        if encounter is None:
            raise _not_found()
        access = note_access_for(user=request.user, encounter=encounter)
        if not access.visible:
            encounter_note_access_record(
                encounter=encounter,
                actor=Actor.from_user(request.user),
                operation=operation,
                outcome=AuditOutcome.DENIED,
                reason=access.reason,
            )
            raise _not_found()
        return encounter, access


class NoteOutput(serializers.Serializer):
    text = serializers.CharField()
    status = serializers.CharField()
    version = serializers.IntegerField()
    released = serializers.BooleanField()
    amendment_reason = serializers.CharField()
    updated_by_user_id = serializers.IntegerField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)


class NoteEnvelopeOutput(serializers.Serializer):
    encounter_id = serializers.CharField()
    note = NoteOutput()


class NoteUpdateOutput(NoteEnvelopeOutput):
    validation = serializers.JSONField(help_text="Redactions (kind, count, replacement) and glossary findings.")


class NoteHistoryOutput(serializers.Serializer):
    encounter_id = serializers.CharField()
    versions = serializers.ListField(
        child=serializers.DictField(), required=False, help_text="Without as_of: versions with field-level diffs."
    )
    as_of = serializers.DateTimeField(required=False)
    history_id = serializers.IntegerField(required=False)
    note = NoteOutput(required=False, help_text="With as_of: the note as it was then.")


class EncounterNoteApi(_NoteController):
    class InputSerializer(serializers.Serializer):
        text = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, max_length=20000)
        status = serializers.ChoiceField(choices=[NoteStatus.DRAFT, NoteStatus.SIGNED], required=False)
        released = serializers.BooleanField(required=False)
        amendment_reason = serializers.CharField(required=False, allow_blank=True, max_length=500)

        def validate(self, attrs):
            if not {"text", "status", "released"} & attrs.keys():
                raise serializers.ValidationError("Send at least one of `text`, `status` or `released`.")
            return attrs

    def dispatch(self, request, *args, **kwargs):
        self.operation = "update" if request.method == "PATCH" else "read"
        return super().dispatch(request, *args, **kwargs)

    @extend_schema(responses={200: NoteEnvelopeOutput}, summary="Read an encounter's clinical note (with ETag)")
    def get(self, request, encounter_id: int):
        encounter, access = self.encounter_visible_to(request, encounter_id, operation="read")
        if not access.can_read_drafts and not encounter.note_released:
            raise Problem(
                status_code=status.HTTP_404_NOT_FOUND,
                title="Note not released",
                detail="Your clinician has not released the note of this encounter yet.",
                remediation="Check again later; released notes appear here.",
                code="note_not_released",
            )
        encounter_note_access_record(
            encounter=encounter, actor=Actor.from_user(request.user), operation="read", outcome=AuditOutcome.SUCCESS
        )
        body = {"encounter_id": str(encounter.id), "note": NoteOutput(note_as_dict(encounter)).data}
        return Response(body, headers={"ETag": note_etag(encounter.note_version)})

    @extend_schema(
        request=InputSerializer,
        responses={200: NoteUpdateOutput},
        parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, required=True)],
        summary="Update an encounter's clinical note (If-Match required)",
    )
    def patch(self, request, encounter_id: int):
        if_match = request.headers.get("If-Match")
        if not if_match:
            raise Problem(
                status_code=status.HTTP_428_PRECONDITION_REQUIRED,
                title="If-Match required",
                detail="Note updates must say which version they change.",
                remediation="GET the note, then send its ETag in an If-Match header with your PATCH.",
                code="precondition_required",
            )
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        encounter, access = self.encounter_visible_to(request, encounter_id, operation="update")
        actor = Actor.from_user(request.user)
        if not access.can_edit:
            encounter_note_access_record(
                encounter=encounter, actor=actor, operation="update", outcome=AuditOutcome.DENIED, reason=access.reason
            )
            raise Problem(
                status_code=status.HTTP_403_FORBIDDEN,
                title="Notes are read-only for you",
                detail="Patients can read their released notes but cannot change them.",
                remediation="Ask your care team to amend the note.",
                code="permission_denied",
            )
        expected = version_from_if_match(if_match)
        if expected is None:
            return self._version_conflict(encounter.note_version)
        try:
            updated, validated = encounter_note_change(
                encounter=encounter,
                actor=actor,
                expected_version=expected,
                change=NoteChange(**serializer.validated_data),
            )
        except NoteVersionConflict as conflict:
            return self._version_conflict(conflict.current_version)
        except TemporalHistoryUnavailable as unavailable:
            return problem_response(
                status_code=unavailable.status_code,
                title=unavailable.title,
                detail=str(unavailable.detail),
                remediation=unavailable.remediation,
                headers={"Retry-After": "5"},
                code="temporal_history_unavailable",
            )
        body = {
            "encounter_id": str(updated.id),
            "note": NoteOutput(note_as_dict(updated)).data,
            "validation": validated.report(),
        }
        return Response(body, headers={"ETag": note_etag(updated.note_version)})

    @staticmethod
    def _version_conflict(current_version: int) -> Response:
        return problem_response(
            status_code=status.HTTP_412_PRECONDITION_FAILED,
            title="The note has changed",
            detail=f"Your If-Match does not name the current version of this note (version {current_version}).",
            remediation="GET the note again, merge your change into the current text, and PATCH with the new ETag.",
            headers={"ETag": note_etag(current_version)},
            code="version_conflict",
            current_version=current_version,
        )


class EncounterNoteHistoryApi(_NoteController):
    operation = "history"

    @extend_schema(
        responses={200: NoteHistoryOutput},
        parameters=[OpenApiParameter("as_of", str, OpenApiParameter.QUERY, description="ISO 8601 timestamp")],
        summary="Versions of a clinical note with diffs, or the note as of a time",
    )
    def get(self, request, encounter_id: int):
        encounter, access = self.encounter_visible_to(request, encounter_id, operation="history")
        actor = Actor.from_user(request.user)
        if not access.can_read_drafts:
            # Patients see released notes only; the history holds drafts. Same answer as a stranger.
            encounter_note_access_record(
                encounter=encounter, actor=actor, operation="history", outcome=AuditOutcome.DENIED, reason=access.reason
            )
            raise _not_found()
        as_of_param = request.query_params.get("as_of")
        encounter_note_access_record(encounter=encounter, actor=actor, operation="history", outcome="success")
        if as_of_param is None:
            versions = encounter_note_history(encounter=encounter)
            return Response({"encounter_id": str(encounter.id), "versions": versions})
        as_of = parse_datetime(as_of_param)
        if as_of is None:
            raise Problem(
                status_code=status.HTTP_400_BAD_REQUEST,
                title="Invalid as_of",
                detail=f"{as_of_param!r} is not an ISO 8601 timestamp.",
                remediation="Send as_of like 2025-05-19T14:30:00Z (URL-encode the '+' of an offset as %2B).",
                code="invalid_as_of",
            )
        if timezone.is_naive(as_of):
            as_of = timezone.make_aware(as_of, UTC)
        record = encounter_note_as_of(encounter=encounter, as_of=as_of)
        if record is None:
            raise Problem(
                status_code=status.HTTP_404_NOT_FOUND,
                title="No note at that time",
                detail="The encounter did not exist yet at the requested time.",
                remediation="Choose an as_of after the encounter was booked (see the history list).",
                code="not_found_as_of",
            )
        return Response(
            {
                "encounter_id": str(encounter.id),
                "as_of": as_of,
                "history_id": record.history_id,
                "note": NoteOutput(note_as_dict(record)).data,
            }
        )
