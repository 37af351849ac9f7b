"""Reads for encounters (booking side)."""

from __future__ import annotations

from django.utils import timezone

from apps.core.ids import bucket_of
from apps.core.sharding import for_id
from apps.outbox.events import EventType
from apps.outbox.models import OutboxEvent, OutboxStatus
from apps.outbox.retention import outbox_retention
from apps.patients.models import CareTeamMember

from .models import Encounter


def clinician_relation(*, clinician_user_id: int | None, encounter: Encounter) -> str | None:
    """The row-level rule (seed FR-08.1/08.2): how a clinician relates to a visit — "assigned
    clinician", "care team member", or None when they may not see it at all."""
    if clinician_user_id is None:
        return None
    if encounter.clinician_user_id == clinician_user_id:
        return "assigned clinician"
    on_care_team = (
        CareTeamMember.objects.using(encounter._state.db)
        .filter(patient_id=encounter.patient_id, clinician_user_id=clinician_user_id)
        .exists()
    )
    return "care team member" if on_care_team else None


def encounter_get(*, encounter_id: int | str) -> Encounter | None:
    """The encounter, or None. Raises ``InvalidShardedId`` for a malformed id (the API answers 404)."""
    bucket_of(encounter_id)
    return for_id(Encounter, encounter_id).filter(pk=int(encounter_id)).first()


def encounter_find_by_idempotency_key(*, using: str, booked_by_user_id: int | None, idempotency_key: str):
    return (
        Encounter.objects.using(using)
        .filter(booked_by_user_id=booked_by_user_id, idempotency_key=idempotency_key)
        .first()
    )


def encounter_booking_event(*, encounter: Encounter) -> tuple[str, str] | None:
    """(tracking id, outbox status) of the ``EncounterCreated`` event recorded with the booking."""
    row = (
        OutboxEvent.objects.using(encounter._state.db)
        .filter(
            aggregate_id=encounter.patient_id,
            event_type=EventType.ENCOUNTER_CREATED,
            payload__encounter_id=str(encounter.id),
        )
        .values_list("id", "status")
        .first()
    )
    if row:
        return str(row[0]), row[1]
    if encounter.created_at and encounter.created_at < timezone.now() - outbox_retention():
        # Only published rows are purged after the retention: an old booking's event went out.
        return "", OutboxStatus.PUBLISHED
    return None
