"""One Idempotency-Key per caller across the whole lab (docs/ADR/ADR-013-idempotency-key-registry.md):
the catalog's registry, not a shard, decides whether a key is new — for bookings and claims alike,
across shards, across a remap, after a claim is archived or purged, and when a shard write fails."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from apps.claims.models import ArchivedClaim, Claim
from apps.claims.services.retention import claims_retention_sweep
from apps.core.models import IdempotencyKey, PersonaRole, ShardMapEntry
from apps.core.resolver import resolver, shard_for_id
from apps.encounters.models import Encounter
from apps.patients.models import CareTeamMember, Patient
from tests.claims.conftest import claim_body, post_claim
from tests.encounters.conftest import SHARD_0_BUCKET, SHARD_1_BUCKET, book, booking_body
from tests.encounters.test_booking_failures import install_fault
from tests.factories import EncounterFactory, PatientFactory, care_team_member, persona_user
from tests.support.api import api_client
from tests.support.claims import claims_lab_reset

pytestmark = pytest.mark.django_db(databases="__all__")

# A bucket that stays on shard_0 when bucket SHARD_0_BUCKET is moved to shard_1.
OTHER_SHARD_0_BUCKET = 7


@pytest.fixture(autouse=True)
def claims_reference_data(request):
    yield from claims_lab_reset(request)


@pytest.fixture
def clinician():
    """A clinician on the care team of one patient per shard: one caller, two shards."""
    user, token = persona_user(PersonaRole.CLINICIAN)
    patients = [PatientFactory(bucket=SHARD_0_BUCKET), PatientFactory(bucket=SHARD_1_BUCKET)]
    for patient in patients:
        care_team_member(patient, user)
    assert [patient._state.db for patient in patients] == ["shard_0", "shard_1"]
    return user, token, patients


@pytest.fixture
def billing_client():
    _user, token = persona_user(PersonaRole.BILLING_ADMIN)
    return api_client(token)


def encounters_on(alias: str) -> int:
    return Encounter.objects.using(alias).count()


def finished_encounters_on_two_shards():
    encounters = [EncounterFactory(patient=PatientFactory(bucket=bucket)) for bucket in (3, 1000)]
    assert [encounter._state.db for encounter in encounters] == ["shard_0", "shard_1"]
    return encounters


def test_a_booking_key_used_for_a_patient_on_one_shard_is_refused_for_a_patient_on_another(clinician):
    _user, token, (on_shard_0, on_shard_1) = clinician
    key = str(uuid.uuid4())
    assert book(token, booking_body(on_shard_0.id), key).status_code == 202

    response = book(token, booking_body(on_shard_1.id), key)

    assert response.status_code == 422, response.content
    problem = response.json()
    assert problem["code"] == "idempotency_key_reused" and problem["idempotency_key_scope"] == "encounter.book"
    assert "new Idempotency-Key" in problem["remediation"]
    assert (encounters_on("shard_0"), encounters_on("shard_1")) == (1, 0)
    entry = IdempotencyKey.objects.using("default").get(key=key)
    assert (entry.scope, entry.shard_alias, entry.resource_type) == ("encounter.book", "shard_0", "encounter")


def test_a_claim_key_used_for_a_patient_on_one_shard_is_refused_for_a_patient_on_another(billing_client):
    first, second = finished_encounters_on_two_shards()
    assert post_claim(billing_client, claim_body(first), key="one-key").status_code == 202

    response = post_claim(billing_client, claim_body(second), key="one-key")

    assert response.status_code == 422, response.content
    assert response.json()["code"] == "idempotency_key_reused"
    assert (Claim.objects.using("shard_0").count(), Claim.objects.using("shard_1").count()) == (1, 0)


def test_bookings_and_claims_answer_the_same_misuse_the_same_way(clinician, billing_client):
    _user, token, (patient, _) = clinician
    booking_key, claim_key = str(uuid.uuid4()), str(uuid.uuid4())
    book(token, booking_body(patient.id), booking_key)
    booking = book(token, booking_body(patient.id, reason="Another visit"), booking_key)
    encounter, _ = finished_encounters_on_two_shards()
    post_claim(billing_client, claim_body(encounter), key=claim_key)
    claim = post_claim(billing_client, claim_body(encounter, payer_code="NORTHSTAR"), key=claim_key)

    assert booking.status_code == claim.status_code == 422
    assert booking["Content-Type"] == claim["Content-Type"] == "application/problem+json"
    assert {k: v for k, v in booking.json().items() if k not in ("detail", "idempotency_key_scope")} == {
        k: v for k, v in claim.json().items() if k not in ("detail", "idempotency_key_scope")
    }


def test_a_remap_does_not_leave_the_key_behind(clinician):
    user, token, (moved, _) = clinician
    stays = PatientFactory(bucket=OTHER_SHARD_0_BUCKET)
    care_team_member(stays, user)
    key = str(uuid.uuid4())
    body = booking_body(moved.id)
    first = book(token, body, key)
    assert first.status_code == 202
    encounter_id = int(first.json()["id"])

    # The bucket moves to shard_1 with its rows (the patient and the encounter), as a remap does.
    bucket_move(SHARD_0_BUCKET, to="shard_1", patient_id=moved.id, encounter_id=encounter_id)
    assert shard_for_id(moved.id) == "shard_1"

    # The retry of the first request replays the first answer from the shard the bucket lives on now.
    again = book(token, body, key)
    assert again.status_code == 202 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    # The key, used for a patient still on shard_0 (whose history left with the bucket), is refused.
    reused = book(token, booking_body(stays.id), key)
    assert reused.status_code == 422, reused.content
    assert encounters_on("shard_0") == 0 and encounters_on("shard_1") == 1


def bucket_move(bucket: int, *, to: str, patient_id: int, encounter_id: int) -> None:
    """Copy one bucket's patient, care team and encounter to ``to``, delete the encounter (the row
    that holds the key on the shard) at the source, and point the shard map at the new shard (a
    one-bucket map entry split out of its range)."""
    source = shard_for_id(patient_id)
    Patient.objects.using(to).bulk_create([Patient.objects.using(source).get(pk=patient_id)])
    CareTeamMember.objects.using(to).bulk_create(
        list(CareTeamMember.objects.using(source).filter(patient_id=patient_id))
    )
    Encounter.objects.using(to).bulk_create([Encounter.objects.using(source).get(pk=encounter_id)])
    Encounter.objects.using(source).filter(pk=encounter_id).delete()
    entry = ShardMapEntry.objects.using("default").get(bucket_start__lte=bucket, bucket_end__gte=bucket)
    ShardMapEntry.objects.using("default").create(
        bucket_start=bucket + 1, bucket_end=entry.bucket_end, shard_alias=source
    )
    entry.bucket_end = bucket - 1
    entry.save(using="default")
    ShardMapEntry.objects.using("default").create(bucket_start=bucket, bucket_end=bucket, shard_alias=to)
    resolver.invalidate()


def test_archiving_and_purging_a_claim_keep_its_key(billing_client):
    encounter, _ = finished_encounters_on_two_shards()
    first = post_claim(billing_client, claim_body(encounter), key="kept-key")
    claim_id = int(first.json()["claim_id"])
    billing_client.post(
        f"/api/claims/{claim_id}/payment", {"paid_amount": "151.00"}, format="json", HTTP_IDEMPOTENCY_KEY="pay-1"
    )
    now = timezone.now()
    assert claims_retention_sweep(now=now + timedelta(days=366)).archived == 1
    assert ArchivedClaim.objects.using("shard_0").filter(claim_id=claim_id).exists()

    # The retry of the first request replays the first claim (archived), never a second one.
    replay = post_claim(billing_client, claim_body(encounter), key="kept-key")
    assert replay.status_code == 202, replay.content
    assert replay.json()["claim_id"] == str(claim_id) and replay.json()["replayed"] is True
    assert replay.json()["status"] == "paid" and replay.json()["trace_id"] == first.json()["trace_id"]
    # The key for a new claim on another encounter is still taken.
    new_encounter = EncounterFactory(patient=PatientFactory(bucket=3))
    assert post_claim(billing_client, claim_body(new_encounter), key="kept-key").status_code == 422

    assert claims_retention_sweep(now=now + timedelta(days=2556)).purged == 1
    assert not ArchivedClaim.objects.using("shard_0").filter(claim_id=claim_id).exists()
    after_purge = post_claim(billing_client, claim_body(encounter), key="kept-key")
    assert after_purge.status_code == 202 and after_purge.json()["claim_id"] == str(claim_id)
    assert post_claim(billing_client, claim_body(new_encounter), key="kept-key").status_code == 422
    assert Claim.objects.using("shard_0").count() == 0
    assert IdempotencyKey.objects.using("default").filter(resource_id=claim_id).count() == 1


def test_a_failed_shard_write_frees_the_key_for_the_retry(clinician):
    _user, token, (patient, _) = clinician
    key, body = str(uuid.uuid4()), booking_body(patient.id)
    install_fault("shard_0", table="outbox_outboxevent", errcode="P0001", times=None)
    failed = book(token, body, key)
    assert failed.status_code == 503 and failed.json()["remediation"]
    assert not IdempotencyKey.objects.using("default").filter(key=key).exists()

    with connections["shard_0"].cursor() as cursor:
        cursor.execute("DROP TRIGGER enc_fault ON outbox_outboxevent")
    retried = book(token, body, key)
    assert retried.status_code == 202 and "Idempotent-Replayed" not in retried
    assert IdempotencyKey.objects.using("default").get(key=key).resource_id == int(retried.json()["id"])


def race(requests) -> list:
    """Run the requests at once (a barrier releases them together), each on its own connections."""
    barrier = threading.Barrier(len(requests))
    responses: list = [None] * len(requests)

    def run(index, send) -> None:
        try:
            barrier.wait()
            responses[index] = send()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index, send)) for index, send in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return responses


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_one_booking_key_at_once_for_patients_on_two_shards_books_once(clinician):
    _user, token, patients = clinician
    key = str(uuid.uuid4())
    responses = race([lambda patient=patient: book(token, booking_body(patient.id), key) for patient in patients])

    assert sorted(response.status_code for response in responses) == [202, 422]
    refused = next(response for response in responses if response.status_code == 422)
    assert refused.json()["code"] == "idempotency_key_reused"
    assert encounters_on("shard_0") + encounters_on("shard_1") == 1
    winner = next(response for response in responses if response.status_code == 202)
    assert IdempotencyKey.objects.using("default").get(key=key).resource_id == int(winner.json()["id"])


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_one_claim_key_at_once_for_patients_on_two_shards_bills_once(billing_client):
    encounters = finished_encounters_on_two_shards()
    responses = race(
        [lambda e=encounter: post_claim(billing_client, claim_body(e), key="k") for encounter in encounters]
    )

    assert sorted(response.status_code for response in responses) == [202, 422]
    assert Claim.objects.using("shard_0").count() + Claim.objects.using("shard_1").count() == 1


def test_the_backfill_registers_the_keys_the_shards_held_before_the_registry(clinician, billing_client):
    _user, token, (on_shard_0, on_shard_1) = clinician
    booking_key = str(uuid.uuid4())
    assert book(token, booking_body(on_shard_0.id), booking_key).status_code == 202
    encounter, other = finished_encounters_on_two_shards()
    assert post_claim(billing_client, claim_body(encounter), key="claim-before").status_code == 202
    # As before the registry: the keys are only on the shards.
    IdempotencyKey.objects.using("default").all().delete()

    first_run, second_run = StringIO(), StringIO()
    call_command("idempotency_keys_backfill", stdout=first_run)
    call_command("idempotency_keys_backfill", stdout=second_run)

    # shard_0 holds the booking and the finished encounter the claim bills (made with a key of its own).
    assert "shard_0 encounter.book: 2 keys on the shard, 2 newly registered" in first_run.getvalue()
    assert "shard_0 claim.submit: 1 keys on the shard, 1 newly registered" in first_run.getvalue()
    assert all(line.endswith(" 0 newly registered") for line in second_run.getvalue().splitlines())
    assert book(token, booking_body(on_shard_1.id), booking_key).status_code == 422
    assert post_claim(billing_client, claim_body(other), key="claim-before").status_code == 422
    assert encounters_on("shard_1") == 1 and Claim.objects.using("shard_1").count() == 0
    replay = post_claim(billing_client, claim_body(encounter), key="claim-before")
    assert replay.status_code == 202 and replay.json()["replayed"] is True


def test_a_booking_writes_its_key_complete_in_one_catalog_statement(clinician):
    """The encounter's id is made before the write, so the registry row is inserted with what it
    booked: no second (UPDATE) statement on the catalog per booking."""
    from django.test.utils import CaptureQueriesContext

    _user, token, (patient, _) = clinician
    key = str(uuid.uuid4())
    with CaptureQueriesContext(connections["default"]) as catalog:
        response = book(token, booking_body(patient.id), key)
    assert response.status_code == 202, response.content
    registry_writes = [q["sql"] for q in catalog.captured_queries if "core_idempotencykey" in q["sql"]]
    assert len(registry_writes) == 1 and registry_writes[0].startswith("INSERT"), registry_writes
    entry = IdempotencyKey.objects.using("default").get(key=key)
    encounter_id = int(response.json()["id"])
    assert (entry.shard_alias, entry.resource_type, entry.resource_id) == ("shard_0", "encounter", encounter_id)
    assert entry.response == {"encounter_id": str(encounter_id), "patient_id": str(patient.id)}
    assert Encounter.objects.using("shard_0").get(pk=encounter_id).patient_id == patient.id


def test_a_key_only_the_shard_knew_is_recorded_with_the_encounter_it_booked_first(clinician):
    """A booking whose catalog row was lost: the retry's planned encounter is never written; the
    shard's key constraint replays the first encounter, and the registry row names that one."""
    _user, token, (patient, _) = clinician
    key, body = str(uuid.uuid4()), booking_body(patient.id)
    first = book(token, body, key)
    assert first.status_code == 202
    IdempotencyKey.objects.using("default").filter(key=key).delete()  # the lost catalog commit

    retried = book(token, body, key)

    assert retried.status_code in (200, 202) and retried.json()["id"] == first.json()["id"], retried.content
    assert encounters_on("shard_0") == 1
    entry = IdempotencyKey.objects.using("default").get(key=key)
    assert entry.resource_id == int(first.json()["id"])
    assert entry.response["encounter_id"] == first.json()["id"]
