"""persona_user_ensure and shard_buckets: the one way seeding, probes, drills and tests get a
persona user with a token, and the one answer to "which buckets does this shard serve"."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import make_password
from knox.crypto import hash_token
from knox.models import AuthToken

from apps.chaos.workload import http_workload_prepare
from apps.core.ids import bucket_of
from apps.core.models import Persona, PersonaRole
from apps.core.resolver import shard_buckets
from apps.core.services import persona_user_ensure
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db(databases="__all__")


def test_ensuring_twice_creates_once_and_relinks_a_moved_patient():
    first_patient, second_patient = PatientFactory(bucket=3), PatientFactory(bucket=1000)
    first = persona_user_ensure(
        username="patient0042", role=PersonaRole.PATIENT, display_name="Ada", patient_id=first_patient.id
    )
    again = persona_user_ensure(
        username="patient0042", role=PersonaRole.PATIENT, display_name="Ada", patient_id=second_patient.id
    )
    assert (first.user_created, again.user_created) == (True, False)
    assert again.user.pk == first.user.pk
    assert Persona.objects.get(user=first.user).patient_id == second_patient.id
    # Tokens are issued on demand (hashed, shown once), never as a side effect of ensuring a user.
    assert AuthToken.objects.filter(user=first.user).count() == 0


def test_a_password_hash_is_set_on_creation_and_synthetic_users_have_none():
    staff = persona_user_ensure(
        username="clinician01",
        role=PersonaRole.CLINICIAN,
        display_name="Dr. Clinician 01",
        password_hash=make_password("clinician-demo-pass"),
    )
    assert staff.user.check_password("clinician-demo-pass")
    synthetic = persona_user_ensure(username="probe-billing", role=PersonaRole.BILLING_ADMIN, display_name="Probe")
    assert not synthetic.user.has_usable_password()


def test_shard_buckets_follow_the_shard_map():
    buckets = shard_buckets()
    assert buckets["shard_0"] == list(range(0, 512)) and buckets["shard_1"] == list(range(512, 1024))


def test_the_drill_workload_personas_book_for_their_own_patient_on_the_target_shard():
    pairs = http_workload_prepare(alias="shard_1", writers=2)
    again = http_workload_prepare(alias="shard_1", writers=2)
    # Idempotent per writer: the same patients (each call issues fresh, hashed tokens).
    assert [patient_id for _, patient_id in again] == [patient_id for _, patient_id in pairs]
    for token, patient_id in pairs:
        persona = AuthToken.objects.select_related("user__persona").get(digest=hash_token(token)).user.persona
        assert persona.role == PersonaRole.PATIENT and str(persona.patient_id) == patient_id
        assert bucket_of(patient_id) in shard_buckets()["shard_1"]
