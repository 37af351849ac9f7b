"""Encounter API (booking side): thin views that parse, authorize, call one service and render."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.actors import Actor
from apps.core.api_errors import Problem
from apps.core.ids import InvalidShardedId, bucket_of
from apps.core.models import PersonaRole
from apps.core.permissions import HasPersonaRole, persona_role
from apps.telemetry.spans import participant_span

from .access import encounter_read
from .models import EncounterType
from .selectors import BILLING_HIDDEN_FIELDS, EncounterView, encounter_booking_event
from .services import (
    BookingInvalid,
    EncounterBooking,
    EncounterNotFinishable,
    EncounterNotVisible,
    IdempotencyKeyConflict,
    PatientNotFound,
    booking_request_fingerprint,
    encounter_book,
    encounter_finish,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"
BREAK_GLASS_HEADER = "Break-Glass-Reason"
# Booking is a patient's or their care team's act; billing admins read the billing view only.
CanBookEncounters = HasPersonaRole.of(PersonaRole.PATIENT, PersonaRole.CLINICIAN)
CanReadEncounters = HasPersonaRole.of(PersonaRole.PATIENT, PersonaRole.CLINICIAN, PersonaRole.BILLING_ADMIN)


class EncounterBookingOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    patient_id = serializers.CharField()
    encounter_type = serializers.CharField()
    reason = serializers.CharField()
    requested_start = serializers.DateTimeField()
    status = serializers.CharField()
    booked_by_user_id = serializers.CharField()
    created_at = serializers.DateTimeField()
    tracking_id = serializers.CharField()
    event_status = serializers.CharField()
    event_published = serializers.BooleanField()


# One unbound field renders datetimes exactly as the output serializer's DateTimeField does.
_DATETIME_FIELD = serializers.DateTimeField()


def _text(value) -> str | None:
    return None if value is None else str(value)


def _datetime(value) -> str | None:
    return None if value is None else _DATETIME_FIELD.to_representation(value)


def _booking_representation(encounter, *, tracking_id: str, event_status: str) -> dict:
    """The body of EncounterBookingOutputSerializer, built directly.

    Instantiating the serializer deep-copies its eleven declared fields on every request; the
    fields here are plain strings, two datetimes and a boolean, so the same JSON is produced
    without it (a test pins both to the same output; the serializer stays the schema)."""
    return {
        "id": _text(encounter.id),
        "patient_id": _text(encounter.patient_id),
        "encounter_type": _text(encounter.encounter_type),
        "reason": _text(encounter.reason),
        "requested_start": _datetime(encounter.requested_start),
        "status": _text(encounter.status),
        "booked_by_user_id": _text(encounter.booked_by_user_id),
        "created_at": _datetime(encounter.created_at),
        "tracking_id": _text(tracking_id),
        "event_status": _text(event_status),
        "event_published": event_status == "published",
    }


def encounter_location(encounter_id: int | str) -> str:
    return f"/api/encounters/{encounter_id}"


class EncounterBookApi(APIView):
    """POST /api/encounters — the Patient API Controller of the booking sequence."""

    permission_classes = [CanBookEncounters]
    renderer_classes = [JSONRenderer]

    class InputSerializer(serializers.Serializer):
        patient_id = serializers.RegexField(
            r"^[1-9][0-9]{0,18}$", error_messages={"invalid": "Send the patient's id as a string of digits."}
        )
        encounter_type = serializers.ChoiceField(choices=EncounterType.choices)
        reason = serializers.CharField(max_length=500, trim_whitespace=True)
        requested_start = serializers.DateTimeField()

        def validate_patient_id(self, value):
            try:
                bucket_of(value)
            except InvalidShardedId as exc:
                raise serializers.ValidationError("This is not a patient id issued by the lab.") from exc
            return value

        def validate_requested_start(self, value):
            if value <= timezone.now():
                raise serializers.ValidationError("The requested slot must be in the future.")
            return value

    @extend_schema(
        request=InputSerializer,
        responses={202: EncounterBookingOutputSerializer},
        parameters=[OpenApiParameter(IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER, required=True)],
    )
    def post(self, request):
        with participant_span("Patient API Controller"):
            idempotency_key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
            if not idempotency_key or len(idempotency_key) > 128:
                raise Problem(
                    status_code=status.HTTP_400_BAD_REQUEST,
                    title="Idempotency-Key header required",
                    detail="Booking needs an Idempotency-Key header of 1–128 characters.",
                    remediation="Send a fresh Idempotency-Key (for example a UUID) per booking; "
                    "reuse it only to retry the very same request.",
                    code="idempotency_key_required",
                )
            serializer = self.InputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            patient_id = int(data["patient_id"])
            self._authorize(request, patient_id)
            fingerprint = booking_request_fingerprint(
                patient_id=patient_id,
                encounter_type=data["encounter_type"],
                reason=data["reason"],
                requested_start=data["requested_start"],
            )
            try:
                booking: EncounterBooking = encounter_book(
                    actor=Actor.from_user(request.user),
                    patient_id=patient_id,
                    encounter_type=data["encounter_type"],
                    reason=data["reason"],
                    requested_start=data["requested_start"],
                    idempotency_key=idempotency_key,
                    request_fingerprint=fingerprint,
                )
            except BookingInvalid as exc:
                raise Problem(
                    status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
                    title="Booking rejected",
                    detail=str(exc),
                    remediation="Fix the fields listed in `errors` and send the request again.",
                    code="booking_invalid",
                    errors=exc.errors,
                ) from exc
            except PatientNotFound as exc:
                raise Problem(
                    status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
                    title="Unknown patient",
                    detail="No patient has this id.",
                    remediation="Use the id of an existing patient (GET the patient first).",
                    code="patient_not_found",
                    errors={"patient_id": ["No patient has this id."]},
                ) from exc
            except IdempotencyKeyConflict as exc:
                raise Problem(
                    status_code=status.HTTP_409_CONFLICT,
                    title="Idempotency-Key reused",
                    detail="This Idempotency-Key was already used for a different booking.",
                    remediation="Use a new Idempotency-Key for a new booking; reuse a key only to retry "
                    "the identical request.",
                    code="idempotency_key_conflict",
                ) from exc
            encounter = booking.encounter
            body = _booking_representation(
                encounter, tracking_id=booking.tracking_id, event_status=booking.event_status
            )
            headers = {"Location": encounter_location(encounter.id)}
            if not booking.created:
                headers["Idempotent-Replayed"] = "true"
            return Response(body, status=status.HTTP_202_ACCEPTED, headers=headers)

    @staticmethod
    def _authorize(request, patient_id: int) -> None:
        if persona_role(request.user) != PersonaRole.PATIENT:
            return  # clinicians and billing admins book on a patient's behalf
        if request.user.persona.patient_id != patient_id:
            raise Problem(
                status_code=status.HTTP_403_FORBIDDEN,
                title="Patients book only for themselves",
                detail="A patient persona may book encounters only for its own patient record.",
                remediation="Use your own patient_id, or ask a clinician to book on the patient's behalf.",
                code="not_own_patient",
            )


class EncounterDetailApi(APIView):
    """GET /api/encounters/{id} — the encounter and whether its event has been published."""

    permission_classes = [CanReadEncounters]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        responses={200: EncounterBookingOutputSerializer},
        parameters=[OpenApiParameter(BREAK_GLASS_HEADER, str, OpenApiParameter.HEADER, required=False)],
    )
    def get(self, request, encounter_id: str):
        encounter, access = encounter_read(
            actor=Actor.from_user(request.user),
            encounter_id=encounter_id,
            break_glass_reason=request.headers.get(BREAK_GLASS_HEADER, ""),
        )
        event = encounter_booking_event(encounter=encounter)
        tracking_id, event_status = event if event else ("", "unknown")
        body = _booking_representation(encounter, tracking_id=tracking_id, event_status=event_status)
        if access.view == EncounterView.BILLING:
            body = {name: value for name, value in body.items() if name not in BILLING_HIDDEN_FIELDS}
        return Response(body)


class EncounterFinishApi(APIView):
    """POST /api/encounters/{id}/finish — a care-team clinician closes the visit so it can be billed."""

    permission_classes = [HasPersonaRole.of(PersonaRole.CLINICIAN)]
    renderer_classes = [JSONRenderer]

    class OutputSerializer(serializers.Serializer):
        id = serializers.CharField()
        status = serializers.CharField()
        changed = serializers.BooleanField()

    @extend_schema(request=None, responses={200: OutputSerializer})
    def post(self, request, encounter_id: int):
        try:
            encounter, changed = encounter_finish(encounter_id=encounter_id, actor=Actor.from_user(request.user))
        except EncounterNotVisible as exc:
            raise Problem(
                status_code=status.HTTP_404_NOT_FOUND,
                title="Not found",
                detail=f"No encounter {encounter_id} is visible to you.",
                remediation="Check the id; only a clinician on the patient's care team can finish the visit.",
                code="not_found",
            ) from exc
        except EncounterNotFinishable as exc:
            raise Problem(
                status_code=status.HTTP_409_CONFLICT,
                title=exc.title,
                detail=str(exc),
                remediation=exc.remediation,
                code=exc.code,
            ) from exc
        return Response({"id": str(encounter.id), "status": encounter.status, "changed": changed})
