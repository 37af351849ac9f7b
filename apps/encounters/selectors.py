"""Reads for encounters (booking side)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from apps.core.actors import Actor
from apps.core.ids import bucket_of
from apps.core.models import PersonaRole
from apps.core.sharding import across_shards, all_shards, for_id
from apps.outbox.events import EventType
from apps.outbox.models import OutboxEvent, OutboxStatus
from apps.outbox.retention import outbox_retention
from apps.patients.models import CareTeamMember

from .errors import EncounterNotVisible
from .models import Encounter, EncounterStatus


def clinician_relation(
    *, clinician_user_id: int | None, encounter: Encounter, on_care_team: bool | None = None
) -> str | None:
    """The row-level rule (seed FR-08.1/08.2): how a clinician relates to a visit — "assigned
    clinician", "care team member", or None when they may not see it at all. ``on_care_team``, when
    the caller already read it with the encounter, spares the care-team query."""
    if clinician_user_id is None:
        return None
    if encounter.clinician_user_id == clinician_user_id:
        return "assigned clinician"
    if on_care_team is None:
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


def clinician_on_care_team(*, clinician_user_id: int | None, patient_id: int, using: str) -> bool:
    """Whether the clinician is on the patient's care team (the row rule for booking on their behalf)."""
    if clinician_user_id is None:
        return False
    return (
        CareTeamMember.objects.using(using).filter(patient_id=patient_id, clinician_user_id=clinician_user_id).exists()
    )


class EncounterPurpose:
    """Why an encounter is read (HIPAA 164.312(b)): the purpose each audit event of a read names."""

    TREATMENT = "treatment"
    PATIENT_ACCESS = "patient access"
    PAYMENT = "payment"
    EMERGENCY_TREATMENT = "emergency treatment"


# The purpose of a read of encounters (a list, a note), by the role of the reader.
ENCOUNTER_ROLE_PURPOSE = {
    PersonaRole.PATIENT: EncounterPurpose.PATIENT_ACCESS,
    PersonaRole.CLINICIAN: EncounterPurpose.TREATMENT,
    PersonaRole.BILLING_ADMIN: EncounterPurpose.PAYMENT,
}


class EncounterView:
    """Which projection of an encounter a caller gets (docs/access-policy.md)."""

    CLINICAL = "clinical"  # care team: everything, the visit reason included
    PATIENT = "patient"  # the patient's own visit
    BILLING = "billing"  # billing admins: no free-text reason, no note
    BREAK_GLASS = "break_glass"  # a clinician outside the care team with a stated reason


# Fields left out of the billing view: free text a clinician or patient wrote.
BILLING_HIDDEN_FIELDS = frozenset({"reason"})


@dataclass(frozen=True)
class EncounterAccess:
    """What ``actor`` may see of one encounter; ``view`` None means "answer 404"."""

    view: str | None
    reason: str
    purpose: str = ""

    @property
    def visible(self) -> bool:
        return self.view is not None


def encounter_access_for(*, actor: Actor, encounter: Encounter, break_glass_reason: str = "") -> EncounterAccess:
    """The row rule of encounter reads: the care team (or the assigned clinician) and the patient
    see the visit; billing admins see its billing view; a clinician outside the care team sees it
    only by stating a break-glass reason; everybody else gets nothing."""
    if actor.role == PersonaRole.PATIENT:
        if actor.patient_id == encounter.patient_id:
            return EncounterAccess(
                EncounterView.PATIENT, "the patient's own encounter", EncounterPurpose.PATIENT_ACCESS
            )
        return EncounterAccess(None, "another patient's encounter")
    if actor.role == PersonaRole.CLINICIAN:
        relation = clinician_relation(clinician_user_id=actor.user_id, encounter=encounter)
        if relation is not None:
            return EncounterAccess(EncounterView.CLINICAL, relation, EncounterPurpose.TREATMENT)
        if break_glass_reason.strip():
            return EncounterAccess(
                EncounterView.BREAK_GLASS, "break-glass: not on the care team", EncounterPurpose.EMERGENCY_TREATMENT
            )
        return EncounterAccess(None, "clinician not on the patient's care team")
    if actor.role == PersonaRole.BILLING_ADMIN:
        return EncounterAccess(EncounterView.BILLING, "billing view", EncounterPurpose.PAYMENT)
    return EncounterAccess(None, f"role {actor.role or 'none'} has no access to encounters")


def encounter_get(*, encounter_id: int | str) -> Encounter | None:
    """The encounter, or None. Raises ``InvalidShardedId`` for a malformed id (the API answers 404)."""
    bucket_of(encounter_id)
    return for_id(Encounter, encounter_id).filter(pk=int(encounter_id)).first()


def encounter_visible_to(*, user, encounter_id: int | str) -> Encounter | None:
    """The encounter if ``user`` may read it under the row rule (``encounter_access_for``: the
    patient their own, the care team, billing admins the billing view), else None: to anyone else
    it does not exist. Callers that show it audit the read (``apps.encounters.access.encounter_read``
    does both)."""
    encounter = encounter_get(encounter_id=encounter_id)
    if encounter is None:
        return None
    access = encounter_access_for(actor=Actor.from_user(user), encounter=encounter)
    return encounter if access.visible else None


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


def encounters_visible_to(*, actor: Actor, limit: int = 50) -> list[Encounter]:
    """The encounters ``actor`` may list, newest slot first, across every shard: a patient their
    own, a clinician those of their care-team patients (or assigned to them), a billing admin every
    finished visit (the billing view). Others get nothing. Callers audit the page they show
    (``apps.encounters.access.encounter_list_audit``)."""
    if actor.role == PersonaRole.PATIENT and actor.patient_id is not None:
        return list(for_id(Encounter, actor.patient_id).filter(patient_id=actor.patient_id)[:limit])
    rows: list[Encounter] = []
    for alias in all_shards():
        queryset = Encounter.objects.using(alias)
        if actor.role == PersonaRole.CLINICIAN:
            queryset = queryset.filter(_clinician_rows(alias=alias, clinician_user_id=actor.user_id))
        elif actor.role == PersonaRole.BILLING_ADMIN:
            queryset = queryset.filter(status="finished")
        else:
            return []
        rows.extend(queryset.order_by("-requested_start")[:limit])
    return sorted(rows, key=lambda e: e.requested_start, reverse=True)[:limit]


# The most visits a "My visits" page lists: the latest by requested start (an index range read).
PATIENT_ENCOUNTERS_LIMIT = 100


def patient_encounters(*, patient_id: int, limit: int = PATIENT_ENCOUNTERS_LIMIT) -> list[Encounter]:
    """The latest ``limit`` encounters of one patient, latest requested start first (one query on
    the patient's shard, read from the (patient, requested start) index)."""
    return list(patient_encounters_query(patient_id=patient_id)[:limit])


def patient_encounters_query(*, patient_id: int):
    return for_id(Encounter, patient_id).filter(patient_id=patient_id).order_by("-requested_start")


def _clinician_rows(*, alias: str, clinician_user_id: int | None) -> Q:
    """The row rule of ``clinician_relation`` as a filter on one shard: visits of the clinician's
    care-team patients or assigned to them. The care team is read first and passed as a list: an
    ``IN (subquery)`` inside an OR cannot use an index, so PostgreSQL would scan every encounter."""
    team = list(
        CareTeamMember.objects.using(alias)
        .filter(clinician_user_id=clinician_user_id)
        .values_list("patient_id", flat=True)
    )
    return Q(patient_id__in=team) | Q(clinician_user_id=clinician_user_id)


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
        rows = encounters.filter(_clinician_rows(alias=alias, clinician_user_id=clinician_user_id)).select_related(
            "patient"
        )
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
