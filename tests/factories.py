"""Test factories for every app, in one place."""

from __future__ import annotations

import functools
import itertools

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from apps.core.actors import Actor
from apps.core.models import PersonaRole
from apps.core.services import persona_user_ensure
from apps.core.tokens import api_token_issue
from apps.patients.models import CareTeamMember, Patient
from apps.patients.services import care_team_member_add, patient_create


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.test")
    password = factory.django.Password("pass-word-123")


class PatientFactory(factory.django.DjangoModelFactory):
    """A patient on the shard its (random or given) bucket maps to. Pass ``bucket=`` to choose."""

    class Meta:
        model = Patient

    # Not excluded: _create must receive it (an excluded declaration never reaches _create).
    bucket = None
    mrn = factory.Sequence(lambda n: f"MRN{n:08d}")
    given_name = factory.Faker("first_name")
    family_name = factory.Faker("last_name")
    birth_date = factory.Faker("date_of_birth", minimum_age=1, maximum_age=95)
    phone = factory.Faker("phone_number")
    email = factory.Faker("email")

    @classmethod
    def _create(cls, model_class, *args, bucket=None, **kwargs):
        return patient_create(bucket=bucket, **kwargs)


_persona_numbers = itertools.count(1)


@functools.cache
def _test_password_hash() -> str:
    return make_password("pass-word-123")


def persona_user(role: str, *, patient: Patient | None = None, username: str | None = None):
    """A user with a persona of ``role`` and an API token; returns (user, token_key)."""
    username = username or f"{role}-user{next(_persona_numbers)}"
    ensured = persona_user_ensure(
        username=username,
        role=role,
        display_name=f"{role} {username}",
        patient_id=patient.id if patient else None,
        password_hash=_test_password_hash(),
        email=f"{username}@example.test",
    )
    user = ensured.user
    token = api_token_issue(user=user)
    user.refresh_from_db()
    return user, token


def care_team_member(patient: Patient, clinician_user) -> CareTeamMember:
    return care_team_member_add(
        actor=Actor.system("test-factories"), patient_id=patient.id, clinician_user_id=clinician_user.pk
    ).member


ROLES = PersonaRole


# --- Encounters ------------------------------------------------------------------------------------
def encounter_for(patient: Patient, *, booked_by=None, clinician=None, **fields):
    """A booked encounter in two days, saved directly on the patient's shard (no booking API involved)."""
    import datetime
    import uuid

    from django.utils import timezone

    from apps.encounters.models import Encounter, EncounterType

    encounter = Encounter(
        patient=patient,
        encounter_type=fields.pop("encounter_type", EncounterType.IN_PERSON),
        reason=fields.pop("reason", "Follow-up of blood pressure"),
        requested_start=fields.pop("requested_start", timezone.now() + datetime.timedelta(days=2)),
        booked_by_user_id=booked_by.pk if booked_by is not None else 0,
        clinician_user_id=clinician.pk if clinician is not None else None,
        idempotency_key=fields.pop("idempotency_key", uuid.uuid4().hex),
        request_fingerprint=fields.pop("request_fingerprint", uuid.uuid4().hex),
        **fields,
    )
    encounter.save(using=patient._state.db)
    return encounter


def _a_week_ago():
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() - timedelta(days=7)


class EncounterFactory(factory.django.DjangoModelFactory):
    """An encounter on its patient's shard (default: a finished in-person visit a week ago)."""

    class Meta:
        model = "encounters.Encounter"

    patient = factory.SubFactory(PatientFactory)
    encounter_type = "in_person"
    reason = "Follow-up of blood pressure"
    requested_start = factory.LazyFunction(_a_week_ago)
    status = "finished"
    booked_by_user_id = 1
    idempotency_key = factory.Sequence(lambda n: f"encounter-key-{n}")
    request_fingerprint = "0" * 64

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        encounter = model_class(*args, **kwargs)
        encounter.save(using=kwargs["patient"]._state.db)
        return encounter
