"""Every patient-owned model lands on its patient's shard (and only there) without naming the shard."""

import datetime as dt

import pytest
from django.db import connections
from django.utils import timezone

from apps.audits.models import AuditEvent
from apps.core.ids import bucket_of
from apps.core.resolver import shard_for_id
from apps.core.sharding import for_id
from apps.encounters.models import Encounter
from apps.outbox.models import OutboxEvent
from apps.patients.models import CareTeamMember, Patient
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db(databases="__all__")

OTHER = {"shard_0": "shard_1", "shard_1": "shard_0"}


def ids_on(alias: str, table: str) -> set[int]:
    with connections[alias].cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table}")  # noqa: S608 (table names come from model metadata)
        return {row[0] for row in cursor.fetchall()}


def build_rows(patient: Patient) -> dict[type, object]:
    member = CareTeamMember(patient=patient, clinician_user_id=7)
    member.save()
    encounter = Encounter(
        patient=patient,
        encounter_type="consultation",
        reason="routine check",
        requested_start=timezone.now() + dt.timedelta(days=3),
        booked_by_user_id=7,
        idempotency_key=f"key-{patient.id}",
        request_fingerprint="f" * 64,
    )
    encounter.save()
    audit = AuditEvent(patient_id=patient.id, action="encounter.book", resource_type="encounter", actor_role="patient")
    audit.save()
    outbox = OutboxEvent(
        aggregate_type="patient", aggregate_id=patient.id, event_type="EncounterCreated", payload={"x": 1}
    )
    outbox.save()
    return {Patient: patient, CareTeamMember: member, Encounter: encounter, AuditEvent: audit, OutboxEvent: outbox}


@pytest.mark.parametrize(("bucket", "shard"), [(17, "shard_0"), (1001, "shard_1")])
def test_each_sharded_model_is_stored_on_the_patients_shard(bucket, shard):
    patient = PatientFactory(bucket=bucket)
    rows = build_rows(patient)
    for model, row in rows.items():
        table = model._meta.db_table
        assert bucket_of(row.id) == bucket, f"{model.__name__} id must carry the patient's bucket"
        assert row._state.db == shard
        assert row.id in ids_on(shard, table), f"{model.__name__} missing on {shard}"
        assert row.id not in ids_on(OTHER[shard], table), f"{model.__name__} leaked to {OTHER[shard]}"
        assert shard_for_id(row.id) == shard
        assert for_id(model, row.id).get(pk=row.id).pk == row.id


def test_history_rows_sit_beside_the_rows_they_record():
    patient = PatientFactory(bucket=1000)
    patient.family_name = "Renamed"
    patient.save()
    history_table = Patient.history.model._meta.db_table
    with connections["shard_1"].cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {history_table} WHERE id = %s", [patient.id])  # noqa: S608
        assert cursor.fetchone()[0] == 2
    with connections["shard_0"].cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {history_table}")  # noqa: S608
        assert cursor.fetchone()[0] == 0


def test_a_row_cannot_relate_to_a_patient_on_another_shard():
    here, there = PatientFactory(bucket=1), PatientFactory(bucket=1020)
    member = CareTeamMember(patient=here, clinician_user_id=1)
    member.save()
    with pytest.raises(ValueError, match="router prevents this relation"):
        member.patient = there


def test_a_shard_scope_routes_unnamed_queries_and_only_inside_the_block():
    from apps.core.router import ShardRoutingError
    from apps.core.sharding import shard_scope

    patient = PatientFactory(bucket=1022)
    with shard_scope("shard_1"):
        assert list(Patient.objects.values_list("id", flat=True)) == [patient.id]
    with shard_scope("shard_0"):
        assert not Patient.objects.exists()
    with pytest.raises(ShardRoutingError):
        Patient.objects.exists()
    with pytest.raises(ValueError, match="not a configured shard"), shard_scope("shard_7"):
        pass
