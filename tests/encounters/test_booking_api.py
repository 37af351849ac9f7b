"""POST /api/encounters and GET /api/encounters/{id} on PostgreSQL: roles, validation, idempotency."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audits.models import AuditEvent
from apps.encounters.models import Encounter
from apps.outbox.models import OutboxEvent, OutboxStatus
from apps.outbox.relay import outbox_relay_drain
from tests.encounters.conftest import book, booking_body
from tests.factories import care_team_member
from tests.support.api import api_client

pytestmark = pytest.mark.django_db(databases="__all__")


def shard_rows(alias: str) -> dict[str, int]:
    return {
        "encounters": Encounter.objects.using(alias).count(),
        "history": Encounter.history.model.objects.using(alias).count(),
        "audit": AuditEvent.objects.using(alias).count(),
        "outbox": OutboxEvent.objects.using(alias).count(),
    }


def test_patient_books_for_themself_and_three_rows_commit_together(patient, patient_persona):
    user, token = patient_persona
    response = book(token, booking_body(patient.id))

    assert response.status_code == 202, response.content
    body = response.json()
    assert isinstance(body["id"], str) and body["patient_id"] == str(patient.id)
    assert response["Location"] == f"/api/encounters/{body['id']}"
    assert body["status"] == "booked" and body["event_published"] is False and body["event_status"] == "pending"

    encounter = Encounter.objects.using("shard_0").get(pk=int(body["id"]))
    assert encounter.booked_by_user_id == user.pk and encounter.idempotency_key
    assert Encounter.history.model.objects.using("shard_0").filter(id=encounter.id).count() == 1
    audit = AuditEvent.objects.using("shard_0").get(resource_id=body["id"])
    assert (audit.action, audit.actor_user_id, audit.actor_role) == ("encounter.booked", user.pk, "patient")
    event = OutboxEvent.objects.using("shard_0").get(pk=int(body["tracking_id"]))
    assert event.event_type == "EncounterCreated" and event.aggregate_id == patient.id
    assert event.payload["encounter_id"] == body["id"] and "reason" not in event.payload
    assert event.headers.get("traceparent")
    assert shard_rows("shard_1") == {"encounters": 0, "history": 0, "audit": 0, "outbox": 0}


def test_a_care_team_clinician_books_on_a_patients_behalf(clinician_persona, other_patient):
    user, token = clinician_persona
    care_team_member(other_patient, user)
    response = book(token, booking_body(other_patient.id, encounter_type="in_person"))
    assert response.status_code == 202, response.content
    encounter = Encounter.objects.using("shard_1").get(pk=int(response.json()["id"]))
    assert encounter.booked_by_user_id == user.pk and encounter.patient_id == other_patient.id


def test_clinician_off_the_care_team_and_billing_admin_cannot_book(clinician_persona, billing_persona, other_patient):
    user, token = clinician_persona
    refused = book(token, booking_body(other_patient.id))
    assert refused.status_code == 404 and refused.json()["remediation"]
    denied = AuditEvent.objects.using("shard_1").get(action="encounter.booked", outcome="denied")
    assert denied.actor_user_id == user.pk and denied.detail["purpose"] == "treatment"
    assert book(billing_persona[1], booking_body(other_patient.id)).status_code == 403
    assert shard_rows("shard_1")["encounters"] == 0


def test_patient_cannot_book_for_someone_else(patient_persona, other_patient):
    _, token = patient_persona
    response = book(token, booking_body(other_patient.id))
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json" and response.json()["remediation"]
    assert shard_rows("shard_1")["encounters"] == 0


def test_sre_persona_is_forbidden_and_anonymous_unauthorized(sre_persona, patient):
    _, token = sre_persona
    assert book(token, booking_body(patient.id)).status_code == 403
    assert api_client().post("/api/encounters", booking_body(patient.id), format="json").status_code == 401


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"encounter_type": "spa_day"}, "encounter_type"),
        ({"reason": ""}, "reason"),
        ({"requested_start": "2001-01-01T09:00:00Z"}, "requested_start"),
        ({"requested_start": "next tuesday"}, "requested_start"),
        ({"patient_id": "12ab"}, "patient_id"),
        ({"patient_id": "9999999999999999999"}, "patient_id"),
    ],
)
def test_invalid_payload_gets_field_errors_and_remediation(patient, patient_persona, overrides, field):
    _, token = patient_persona
    response = book(token, booking_body(patient.id, **overrides))
    assert response.status_code == 400
    problem = response.json()
    assert field in problem["errors"] and problem["remediation"]
    assert shard_rows("shard_0")["encounters"] == 0


def test_missing_idempotency_key_is_a_clear_400(patient, patient_persona):
    _, token = patient_persona
    response = api_client(token).post("/api/encounters", booking_body(patient.id), format="json")
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["title"] and response.json()["remediation"]


def test_repeating_a_key_with_the_same_body_returns_the_original(patient, patient_persona):
    _, token = patient_persona
    body, key = booking_body(patient.id), str(uuid.uuid4())
    first = book(token, body, key)
    again = book(token, body, key)
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"] and again.json()["tracking_id"] == first.json()["tracking_id"]
    assert again["Location"] == first["Location"] and again["Idempotent-Replayed"] == "true"
    assert shard_rows("shard_0") == {"encounters": 1, "history": 1, "audit": 1, "outbox": 1}


def test_same_key_with_a_different_body_is_refused_as_claims_are(patient, patient_persona):
    _, token = patient_persona
    key = str(uuid.uuid4())
    assert book(token, booking_body(patient.id), key).status_code == 202
    response = book(token, booking_body(patient.id, reason="Something else entirely"), key)
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "idempotency_key_reused" and "new Idempotency-Key" in problem["remediation"]
    assert shard_rows("shard_0")["encounters"] == 1


def test_get_shows_the_encounter_and_whether_its_event_was_published(patient, patient_persona, clinician_persona):
    _, token = patient_persona
    created = book(token, booking_body(patient.id)).json()
    before = api_client(token).get(f"/api/encounters/{created['id']}")
    assert before.status_code == 200 and before.json()["event_published"] is False

    assert outbox_relay_drain(shard_alias="shard_0") >= 1

    after = api_client(token).get(f"/api/encounters/{created['id']}").json()
    assert after["event_published"] is True and after["event_status"] == OutboxStatus.PUBLISHED
    assert after["tracking_id"] == created["tracking_id"]
    care_team_member(patient, clinician_persona[0])
    assert api_client(clinician_persona[1]).get(f"/api/encounters/{created['id']}").status_code == 200


def test_get_hides_other_patients_encounters_and_unknown_ids(patient_persona, other_patient, clinician_persona):
    care_team_member(other_patient, clinician_persona[0])
    theirs = book(clinician_persona[1], booking_body(other_patient.id)).json()
    _, token = patient_persona
    assert api_client(token).get(f"/api/encounters/{theirs['id']}").status_code == 404
    assert api_client(token).get("/api/encounters/999999999999").status_code == 404
    assert api_client(token).get("/api/encounters/not-an-id").status_code == 404


def test_requested_start_naive_or_past_rejected_by_the_service_too(patient, patient_persona):
    from apps.core.actors import Actor
    from apps.encounters.services import BookingInvalid, encounter_book

    user, _ = patient_persona
    with pytest.raises(BookingInvalid) as raised:
        encounter_book(
            actor=Actor.from_user(user),
            patient_id=patient.id,
            encounter_type="telehealth",
            reason="x",
            requested_start=timezone.now() - timedelta(minutes=1),
            idempotency_key="k1",
            request_fingerprint="f",
        )
    assert "requested_start" in raised.value.errors


def test_metrics_endpoint_exposes_booking_and_outbox_figures(patient, patient_persona, client):
    book(patient_persona[1], booking_body(patient.id))
    text = client.get("/metrics").content.decode()
    assert (
        'encounter_write_latency_bucket{actor_role="patient",le="0.005",outcome="created",shard_id="shard_0"}' in text
    )
    assert 'outbox_pending_events{shard_id="shard_0"} 1.0' in text
    assert 'outbox_dead_letters{shard_id="shard_0"} 0.0' in text
    assert "outbox_oldest_pending_age_seconds" in text and "http_server_duration_seconds_bucket" in text


def test_an_old_booking_whose_event_was_purged_reads_as_published(patient, patient_persona):
    from apps.outbox.retention import outbox_published_purge

    _, token = patient_persona
    created = book(token, booking_body(patient.id)).json()
    outbox_relay_drain(shard_alias="shard_0")
    long_ago = timezone.now() - timedelta(days=400)  # past the retention (and the rebuild promise)
    Encounter.objects.using("shard_0").filter(pk=int(created["id"])).update(created_at=long_ago)
    OutboxEvent.objects.using("shard_0").update(published_at=long_ago)
    assert outbox_published_purge(using="shard_0") == 1
    shown = api_client(token).get(f"/api/encounters/{created['id']}").json()
    assert shown["event_published"] is True and shown["tracking_id"] == ""
