"""Reads for encounters (booking side)."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from apps.core.ids import bucket_of
from apps.core.models import PersonaRole
from apps.core.sharding import across_shards, for_id
from apps.outbox.events import EventType
from apps.outbox.models import OutboxEvent, OutboxStatus
from apps.outbox.retention import outbox_retention
from apps.patients.models import CareTeamMember

from .errors import EncounterNotVisible
from .models import Encounter, EncounterStatus


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


def user_is_patient(*, user, patient_id: int) -> bool:
    """The row-level rule for patients: is ``user`` the patient persona of this patient record?"""
    persona = getattr(user, "persona", None)
    return persona is not None and persona.role == PersonaRole.PATIENT and persona.patient_id == patient_id


def persona_may_act_for_patient(*, user, patient_id: int) -> bool:
    """Patients act (book, read their encounters) only for themselves; staff personas, whose role
    the view's permission class already checked, act on a patient's behalf."""
    persona = getattr(user, "persona", None)
    if persona is None or persona.role != PersonaRole.PATIENT:
        return persona is not None
    return user_is_patient(user=user, patient_id=patient_id)


def encounter_get(*, encounter_id: int | str) -> Encounter | None:
    """The encounter, or None. Raises ``InvalidShardedId`` for a malformed id (the API answers 404)."""
    bucket_of(encounter_id)
    return for_id(Encounter, encounter_id).filter(pk=int(encounter_id)).first()


def encounter_visible_to(*, user, encounter_id: int | str) -> Encounter | None:
    """The encounter if ``user`` may read its booking (``persona_may_act_for_patient``), else None:
    to anyone else it does not exist."""
    encounter = encounter_get(encounter_id=encounter_id)
    if encounter is None or not persona_may_act_for_patient(user=user, patient_id=encounter.patient_id):
        return None
    return encounter


def encounter_visible_get(*, encounter_id: int | str, user) -> Encounter:
    """``encounter_visible_to``, raising ``EncounterNotVisible`` where that answers None."""
    encounter = encounter_visible_to(user=user, encounter_id=encounter_id)
    if encounter is None:
        raise EncounterNotVisible(f"No encounter {encounter_id} is visible to you.")
    return encounter


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


def patient_encounters(*, patient_id: int) -> list[Encounter]:
    """Every encounter of one patient, latest requested start first (one query on the patient's shard)."""
    return list(for_id(Encounter, patient_id).filter(patient_id=patient_id).order_by("-requested_start"))


def encounter_booking_events(*, encounters: list[Encounter]) -> dict[int, tuple[str, str]]:
    """(tracking id, outbox status) per encounter id, in one query per shard (for list pages)."""
    by_shard: dict[str, list[Encounter]] = {}
    for encounter in encounters:
        by_shard.setdefault(encounter._state.db, []).append(encounter)
    found: dict[int, tuple[str, str]] = {}
    for alias, rows in by_shard.items():
        events = (
            OutboxEvent.objects.using(alias)
            .filter(
                aggregate_id__in={row.patient_id for row in rows},
                event_type=EventType.ENCOUNTER_CREATED,
                payload__encounter_id__in=[str(row.id) for row in rows],
            )
            .values_list("id", "status", "payload__encounter_id")
        )
        for event_id, status, encounter_id in events:
            found[int(encounter_id)] = (str(event_id), status)
    retention_start = timezone.now() - outbox_retention()
    for encounter in encounters:
        if encounter.id not in found and encounter.created_at and encounter.created_at < retention_start:
            found[encounter.id] = ("", OutboxStatus.PUBLISHED)
    return found


class WorklistScope:
    TODAY = "today"
    UPCOMING = "upcoming"
    UNFINISHED = "unfinished"
    ALL = "all"
    CHOICES = (
        (TODAY, "Today"),
        (UPCOMING, "Upcoming"),
        (UNFINISHED, "Not finished"),
        (ALL, "All"),
    )


def clinician_worklist(*, clinician_user_id: int, scope: str = WorklistScope.UNFINISHED, search: str = ""):
    """One queryset per shard of the visits a clinician may see (care team or assigned, the rule of
    ``clinician_relation``), filtered by ``scope`` and an MRN/name ``search``, by requested start."""
    now = timezone.now()
    querysets = []
    for alias, encounters in across_shards(Encounter):
        care_team = CareTeamMember.objects.using(alias).filter(clinician_user_id=clinician_user_id)
        rows = encounters.filter(
            Q(patient_id__in=care_team.values("patient_id")) | Q(clinician_user_id=clinician_user_id)
        ).select_related("patient")
        if scope == WorklistScope.TODAY:
            rows = rows.filter(requested_start__date=now.date())
        elif scope == WorklistScope.UPCOMING:
            rows = rows.filter(requested_start__gte=now, status=EncounterStatus.BOOKED)
        elif scope == WorklistScope.UNFINISHED:
            rows = rows.filter(status__in=[EncounterStatus.BOOKED, EncounterStatus.IN_PROGRESS])
        search = search.strip()
        if search:
            rows = rows.filter(
                Q(patient__mrn__iexact=search)
                | Q(patient__family_name__icontains=search)
                | Q(patient__given_name__icontains=search)
            )
        querysets.append(rows.order_by("requested_start", "id"))
    return querysets
