import pytest
from django.db import connections

from apps.core.ids import bucket_of
from apps.core.resolver import shard_for_id
from apps.core.router import ShardRoutingError
from apps.patients.models import Patient

pytestmark = pytest.mark.django_db(databases="__all__")


def make_patient(bucket: int) -> Patient:
    patient = Patient(mrn=f"MRN{bucket:06d}", given_name="Ada", family_name="Lovelace", birth_date="1990-01-01")
    patient.assign_id(bucket)
    patient.save()
    return patient


def test_patient_lands_on_the_shard_its_bucket_maps_to():
    low, high = make_patient(3), make_patient(1000)
    assert bucket_of(low.id) == 3 and bucket_of(high.id) == 1000
    assert low._state.db == "shard_0" and high._state.db == "shard_1"
    for alias, expected in (("shard_0", {low.id}), ("shard_1", {high.id})):
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT id FROM patients_patient")
            assert {row[0] for row in cursor.fetchall()} == expected
    assert shard_for_id(high.id) == "shard_1"


def test_sharded_query_without_a_shard_fails_loudly():
    with pytest.raises(ShardRoutingError):
        list(Patient.objects.all())


def test_persona_factory_gives_token_and_role():
    from tests.factories import PatientFactory, persona_user

    patient = PatientFactory(bucket=700)
    user, token = persona_user("patient", patient=patient, username="pat1")
    assert user.persona.patient_id == patient.id and len(token) == 64  # knox: 64 hex characters
    assert patient._state.db == "shard_1"
