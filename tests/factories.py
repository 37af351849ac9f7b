"""Test factories for every app, in one place."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from apps.core.models import Persona, PersonaRole
from apps.patients.models import CareTeamMember, Patient


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.test")
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")


class PatientFactory(factory.django.DjangoModelFactory):
    """A patient on the shard its (random or given) bucket maps to. Pass ``bucket=`` to choose."""

    class Meta:
        model = Patient
        exclude = ("bucket",)

    bucket = None
    mrn = factory.Sequence(lambda n: f"MRN{n:08d}")
    given_name = factory.Faker("first_name")
    family_name = factory.Faker("last_name")
    birth_date = factory.Faker("date_of_birth", minimum_age=1, maximum_age=95)
    phone = factory.Faker("phone_number")
    email = factory.Faker("email")

    @classmethod
    def _create(cls, model_class, *args, bucket=None, **kwargs):
        patient = model_class(*args, **kwargs)
        patient.assign_id(bucket)
        patient.save()
        return patient


def persona_user(role: str, *, patient: Patient | None = None, username: str | None = None):
    """A user with a persona of ``role`` and an API token; returns (user, token_key)."""
    user = UserFactory(**({"username": username} if username else {}))
    Persona.objects.create(
        user=user, role=role, patient_id=patient.id if patient else None, display_name=f"{role} {user.username}"
    )
    token, _ = Token.objects.get_or_create(user=user)
    user.refresh_from_db()
    return user, token.key


def care_team_member(patient: Patient, clinician_user) -> CareTeamMember:
    member = CareTeamMember(patient=patient, clinician_user_id=clinician_user.pk)
    member.save(using=patient._state.db)
    return member


ROLES = PersonaRole


# --- Encounters and claims (billing scenario) -------------------------------------------------------


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
