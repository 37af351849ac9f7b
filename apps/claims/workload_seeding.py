"""A synthetic workload for a freshly seeded lab: visits booked, finished and billed through the
real services (history, audit events and outbox rows included), so the dashboards, SLOs and audit
trail have something to show. Idempotent: every key derives from the patient's MRN."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import time_machine
from django.utils import timezone

from apps.core.actors import Actor
from apps.core.models import Persona, PersonaRole
from apps.core.sharding import all_shards
from apps.encounters.models import EncounterType
from apps.encounters.selectors import encounter_find_by_idempotency_key
from apps.encounters.services import booking_request_fingerprint, encounter_book, encounter_finish
from apps.patients.models import CareTeamMember, Patient

from .models import Payer
from .services import LineItemInput, claim_submit

VISIT_REASONS = (
    "Blood pressure follow-up",
    "Persistent cough",
    "Annual check-up",
    "Diabetes review",
    "Knee pain after a fall",
    "Medication review",
)
CLAIM_LINES = (
    LineItemInput(procedure_code="99213", diagnosis_codes=("I10",), units=1, unit_price=Decimal("120.00")),
    LineItemInput(procedure_code="36415", diagnosis_codes=("I10", "E11.9"), units=2, unit_price=Decimal("15.50")),
)


# Past visits spread over this many days before today, so the dashboards' daily series have a shape.
HISTORY_DAYS = 28


@dataclass(frozen=True)
class VisitHistory:
    """When a seeded visit was booked, held, finished and billed (None: not yet)."""

    booked_at: datetime | None
    start: datetime
    finished_at: datetime | None
    billed_at: datetime | None


def _visit_history(index: int, *, upcoming: bool) -> VisitHistory:
    """A plausible timeline: booked days ahead of the visit, finished within the hour after its
    start, billed the next day. Upcoming visits are booked now for the next two weeks."""
    today = timezone.now().replace(minute=0, second=0, microsecond=0)
    if upcoming:
        start = today + timedelta(days=1 + index % 14, hours=index % 8)
        return VisitHistory(booked_at=None, start=start, finished_at=None, billed_at=None)
    start = (today - timedelta(days=2 + index % HISTORY_DAYS)).replace(hour=8 + index % 9)
    return VisitHistory(
        booked_at=start - timedelta(days=3 + index % 5, hours=index % 7),
        start=start,
        finished_at=start + timedelta(minutes=30 + index % 40),
        billed_at=start + timedelta(hours=20 + index % 30),
    )


@contextmanager
def _at(moment: datetime | None) -> Iterator[None]:
    """Run a service call as at ``moment`` (the clock the services, audit and outbox rows read), so
    the lab's history lies in the past like a real clinic's. ``None`` means now."""
    if moment is None:
        yield
        return
    with time_machine.travel(moment, tick=True):
        yield


class WorkloadSeedUnavailable(Exception):
    pass


@dataclass
class WorkloadSeedSummary:
    booked: int = 0
    already_booked: int = 0
    finished: int = 0
    claims_submitted: int = 0


def lab_workload_seed(*, visits: int, progress: Callable[[str], None] | None = None) -> WorkloadSeedSummary:
    """Book one visit for each of the first ``visits`` patients (by MRN) as a clinician on their
    care team; finish two thirds of them and bill those as the first billing admin."""
    billing = Persona.objects.filter(role=PersonaRole.BILLING_ADMIN).select_related("user").order_by("user__username")
    billing_persona = billing.first()
    payer_codes = list(Payer.objects.filter(active=True).order_by("code").values_list("code", flat=True))
    if billing_persona is None or not payer_codes:
        raise WorkloadSeedUnavailable("No billing admin or payer yet: run `python manage.py seed_lab` first.")
    billing_actor = Actor.from_user(billing_persona.user)
    patients = sorted(
        (
            patient
            for alias in all_shards()
            for patient in Patient.objects.using(alias).exclude(mrn__startswith="PROBE")
        ),
        key=lambda patient: patient.mrn,
    )[:visits]
    summary = WorkloadSeedSummary()
    for index, patient in enumerate(patients):
        alias = patient._state.db
        member = CareTeamMember.objects.using(alias).filter(patient=patient).order_by("clinician_user_id").first()
        if member is None:
            continue
        clinician = Actor(user_id=member.clinician_user_id, role=PersonaRole.CLINICIAN)
        key = f"seed-visit-{patient.mrn}"
        encounter = encounter_find_by_idempotency_key(
            using=alias, booked_by_user_id=clinician.user_id, idempotency_key=key
        )
        upcoming = index % 3 == 2  # a third of the visits stay upcoming
        history = _visit_history(index, upcoming=upcoming)
        if encounter is None:
            encounter_type = list(EncounterType.values)[index % len(EncounterType.values)]
            reason = VISIT_REASONS[index % len(VISIT_REASONS)]
            with _at(history.booked_at):
                encounter = encounter_book(
                    actor=clinician,
                    patient_id=patient.id,
                    encounter_type=encounter_type,
                    reason=reason,
                    requested_start=history.start,
                    idempotency_key=key,
                    request_fingerprint=booking_request_fingerprint(
                        patient_id=patient.id,
                        encounter_type=encounter_type,
                        reason=reason,
                        requested_start=history.start,
                    ),
                ).encounter
            summary.booked += 1
        else:
            summary.already_booked += 1
        if upcoming:
            continue
        with _at(history.finished_at):
            _encounter, finished_now = encounter_finish(encounter_id=encounter.id, actor=clinician)
        summary.finished += finished_now
        with _at(history.billed_at):
            submission = claim_submit(
                actor=billing_actor,
                user=billing_persona.user,
                patient_id=patient.id,
                encounter_id=encounter.id,
                payer_code=payer_codes[index % len(payer_codes)],
                currency="USD",
                line_items=list(CLAIM_LINES),
                idempotency_key=f"seed-claim-{patient.mrn}",
            )
        summary.claims_submitted += submission.created
        if progress is not None and (index + 1) % 25 == 0:
            progress(f"visits {index + 1}/{len(patients)}")
    return summary
