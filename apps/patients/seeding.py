"""Synthetic lab data: patients spread over every shard, their care teams, and persona users.

Idempotent: patients are keyed by a medical record number derived from their index
(``LAB0000001`` …) and users by their username, so a second run creates nothing that exists.
Deterministic: every patient's attributes come from a Faker instance seeded with
``(seed, index)``, so the same ``--seed`` yields the same people whatever else exists.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from faker import Faker

from apps.core.actors import Actor
from apps.core.models import Persona, PersonaRole
from apps.core.personas import (
    DEMO_PASSWORDS,
    OPERATOR_USERNAME,
    SECOND_SRE_USERNAME,
    SRE_USERNAME,
    billing_admin_username,
    clinician_username,
    patient_username,
)
from apps.core.resolver import ShardMapMissing, resolver, shard_buckets
from apps.core.services import persona_user_ensure
from apps.core.shard_map import shard_map_spread_evenly

from .models import Patient, Sex
from .services import care_team_member_add, patient_create

PATIENTS_PER_CLINICIAN = 20
BILLING_ADMIN_COUNT = 2
SECOND_CLINICIAN_SHARE = 0.3
PROGRESS_EVERY = 250
_SEED_STRIDE = 1_000_003


@dataclass
class SeedSummary:
    patients_created: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    patients_existing: int = 0
    care_team_created: int = 0
    users_created: int = 0
    # API tokens are hashed: `persona_tokens` issues them and shows each once; seeding makes none.
    tokens_created: int = 0

    @property
    def patients_created_total(self) -> int:
        return sum(self.patients_created.values())


def mrn_for(index: int) -> str:
    return f"LAB{index + 1:07d}"


def clinician_count(patients: int) -> int:
    return max(2, -(-patients // PATIENTS_PER_CLINICIAN))


def lab_seed(*, patients: int, seed: int = 0, progress: Callable[[str], None] | None = None) -> SeedSummary:
    """Create what is missing of the lab: ``patients`` patients, clinicians with care-team
    assignments, billing admins, one SRE and one operator, each persona user with a token."""
    report = progress or (lambda message: None)
    summary = SeedSummary()
    buckets_by_shard = _buckets_by_shard()
    shards = sorted(buckets_by_shard)
    report(f"Shards in the map: {', '.join(shards)}")

    password_hashes = {role: make_password(password) for role, password in DEMO_PASSWORDS.items()}
    staff = _staff_users(patients=patients, password_hashes=password_hashes, summary=summary)
    clinician_ids = staff[PersonaRole.CLINICIAN]

    fake = Faker("en_US")
    for start in range(0, patients, PROGRESS_EVERY):
        indexes = range(start, min(start + PROGRESS_EVERY, patients))
        located = _patients_ensure(
            indexes=indexes, seed=seed, fake=fake, shards=shards, buckets_by_shard=buckets_by_shard, summary=summary
        )
        _care_teams_ensure(located=located, clinician_ids=clinician_ids, seed=seed, summary=summary)
        _patient_personas_ensure(located=located, password_hash=password_hashes[PersonaRole.PATIENT], summary=summary)
        report(f"patients {indexes.stop}/{patients}")
    return summary


def _buckets_by_shard() -> dict[str, list[int]]:
    try:
        resolver.shard_for_bucket(0)
    except ShardMapMissing:
        shard_map_spread_evenly()
        resolver.forget()
    mapping = shard_buckets()
    if not mapping:
        raise ShardMapMissing("The shard map maps no bucket to any shard; fix it in the admin (Core → Shard map).")
    # A shard without buckets (drained on purpose) gets no new patients.
    return mapping


@dataclass(frozen=True)
class _SeededPatient:
    index: int
    id: int
    shard: str
    display_name: str


def _patients_ensure(*, indexes, seed, fake, shards, buckets_by_shard, summary) -> list[_SeededPatient]:
    mrns = {mrn_for(i): i for i in indexes}
    located: dict[int, _SeededPatient] = {}
    for alias in settings.SHARD_ALIASES:
        rows = (
            Patient.objects.using(alias)
            .filter(mrn__in=list(mrns))
            .values_list("mrn", "id", "given_name", "family_name")
        )
        for mrn, patient_id, given, family in rows:
            index = mrns[mrn]
            located[index] = _SeededPatient(index, patient_id, alias, f"{given} {family}")
    summary.patients_existing += len(located)

    new_by_shard: dict[str, list[dict]] = defaultdict(list)
    for index in indexes:
        if index in located:
            continue
        fake.seed_instance(seed * _SEED_STRIDE + index)
        alias = shards[index % len(shards)]
        bucket = fake.random.choice(buckets_by_shard[alias])
        sex = fake.random.choice([Sex.FEMALE, Sex.MALE, Sex.FEMALE, Sex.MALE, Sex.OTHER])
        given = (
            fake.first_name_female()
            if sex == Sex.FEMALE
            else fake.first_name_male()
            if sex == Sex.MALE
            else fake.first_name()
        )
        family = fake.last_name()
        new_by_shard[alias].append(
            {
                "mrn": mrn_for(index),
                "given_name": given,
                "family_name": family,
                "birth_date": fake.date_of_birth(minimum_age=0, maximum_age=98),
                "sex": sex,
                "phone": fake.numerify("555-###-####"),
                "email": f"{given}.{family}.{index + 1}@example.test".lower().replace(" ", ""),
                "bucket": bucket,
            }
        )

    for alias, new_patients in new_by_shard.items():
        with transaction.atomic(using=alias):  # one transaction per shard and batch
            created = [patient_create(**fields) for fields in new_patients]
        for patient in created:
            index = mrns[patient.mrn]
            located[index] = _SeededPatient(index, patient.id, alias, f"{patient.given_name} {patient.family_name}")
        summary.patients_created[alias] += len(created)
    return [located[i] for i in indexes]


def _care_teams_ensure(*, located, clinician_ids, seed, summary) -> None:
    wanted_by_shard: dict[str, set[tuple[int, int]]] = defaultdict(set)
    for patient in located:
        primary = clinician_ids[patient.index % len(clinician_ids)]
        wanted_by_shard[patient.shard].add((patient.id, primary))
        # A share of patients also see a second clinician (cover, specialist), picked deterministically.
        chooser = _deterministic_fraction(seed, patient.index)
        if chooser < SECOND_CLINICIAN_SHARE and len(clinician_ids) > 1:
            second = clinician_ids[(patient.index + 1 + int(chooser * 1000)) % len(clinician_ids)]
            if second != primary:
                wanted_by_shard[patient.shard].add((patient.id, second))
    actor = Actor.system("seed_lab")
    for alias, wanted in wanted_by_shard.items():
        with transaction.atomic(using=alias):  # one transaction per shard and batch
            for patient_id, clinician_id in sorted(wanted):
                added = care_team_member_add(actor=actor, patient_id=patient_id, clinician_user_id=clinician_id)
                summary.care_team_created += added.changed


def _deterministic_fraction(seed: int, index: int) -> float:
    return random.Random(seed * _SEED_STRIDE + index).random()


def _staff_users(*, patients: int, password_hashes: dict, summary: SeedSummary) -> dict[str, list[int]]:
    wanted: list[tuple[str, str, str, bool]] = []
    for i in range(clinician_count(patients)):
        wanted.append((clinician_username(i), PersonaRole.CLINICIAN, f"Dr. Clinician {i + 1:02d}", False))
    for i in range(BILLING_ADMIN_COUNT):
        wanted.append((billing_admin_username(i), PersonaRole.BILLING_ADMIN, f"Billing admin {i + 1:02d}", False))
    # The SREs and the operator use the Django admin (shards, outbox, audit trail, drills) as staff
    # with the model permissions of their job (STAFF_PERMISSIONS), never as superusers.
    wanted.append((SRE_USERNAME, PersonaRole.SRE, "Site reliability engineer", True))
    wanted.append((SECOND_SRE_USERNAME, PersonaRole.SRE, "Site reliability engineer (approver)", True))
    wanted.append((OPERATOR_USERNAME, PersonaRole.OPERATOR, "Lab operator", True))

    ids: dict[str, list[int]] = defaultdict(list)
    for username, role, display_name, is_admin in wanted:
        ensured = persona_user_ensure(
            username=username,
            role=role,
            display_name=display_name,
            password_hash=password_hashes[role],
            is_admin=is_admin,
        )
        summary.users_created += ensured.user_created
        if is_admin:
            # Staff with the model permissions its role needs, never a superuser (runbook 32).
            ensured.user.user_permissions.set(_staff_permissions(role))
        ids[role].append(ensured.user.pk)
    return ids


# Admin permissions per staff role: read everything the lab records; the operator also retries
# dead letters and edits the shard map; SREs may engage the chaos kill switch. Drill governance
# (approve, launch) is not an admin permission: it goes through the chaos services.
_VIEWED_APPS = ("core", "patients", "encounters", "claims", "audits", "outbox", "projections", "slo", "probes", "chaos")
STAFF_PERMISSIONS = {
    PersonaRole.OPERATOR: ("outbox.change_outboxevent", "core.change_shardmapentry", "slo.change_alertevent"),
    PersonaRole.SRE: ("chaos.change_chaosswitch", "slo.change_servicelevelobjective"),
}


def _staff_permissions(role: str) -> list:
    from django.contrib.auth.models import Permission

    viewed = Permission.objects.using("default").filter(
        content_type__app_label__in=_VIEWED_APPS, codename__startswith="view_"
    )
    granted = [
        Permission.objects.using("default").filter(content_type__app_label=label, codename=codename).first()
        for label, codename in (name.split(".", 1) for name in STAFF_PERMISSIONS.get(role, ()))
    ]
    return [*viewed, *(p for p in granted if p is not None)]


def _patient_personas_ensure(*, located: list[_SeededPatient], password_hash: str, summary: SeedSummary) -> None:
    User = get_user_model()
    usernames = {patient_username(p.index): p for p in located}
    with transaction.atomic(using="default"):
        existing = set(
            User.objects.using("default").filter(username__in=list(usernames)).values_list("username", flat=True)
        )
        new_users = [
            User(username=name, password=password_hash, email=f"{name}@pimlab.example.test")
            for name in usernames
            if name not in existing
        ]
        User.objects.using("default").bulk_create(new_users)
        summary.users_created += len(new_users)
        users = dict(User.objects.using("default").filter(username__in=list(usernames)).values_list("username", "id"))

        personas = {
            persona.user_id: persona
            for persona in Persona.objects.using("default").filter(user_id__in=list(users.values()))
        }
        new_personas = []
        for name, patient in usernames.items():
            persona = personas.get(users[name])
            if persona is None:
                new_personas.append(
                    Persona(
                        user_id=users[name],
                        role=PersonaRole.PATIENT,
                        patient_id=patient.id,
                        display_name=patient.display_name,
                    )
                )
            elif persona.patient_id != patient.id:
                # The shards were reset under an existing catalog: relink the login to the new record.
                persona.patient_id = patient.id
                persona.save(using="default", update_fields=["patient_id"])
        Persona.objects.using("default").bulk_create(new_personas)
