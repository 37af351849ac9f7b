import pytest

from tests.encounters.conftest import book, booking_body
from tests.factories import care_team_member

pytestmark = pytest.mark.django_db(databases="__all__")


def test_operator_sees_encounters_per_shard_with_history(admin_client, other_patient, clinician_persona):
    care_team_member(other_patient, clinician_persona[0])
    encounter_id = book(clinician_persona[1], booking_body(other_patient.id)).json()["id"]
    listing = admin_client.get("/admin/encounters/encounter/?shard=shard_1")
    assert listing.status_code == 200 and encounter_id in listing.content.decode()
    assert encounter_id not in admin_client.get("/admin/encounters/encounter/?shard=shard_0").content.decode()
    assert admin_client.get(f"/admin/encounters/encounter/{encounter_id}/change/").status_code == 200
    history = admin_client.get(f"/admin/encounters/encounter/{encounter_id}/history/")
    assert history.status_code == 200 and "Created" in history.content.decode()


def test_outbox_admin_opens_an_event(admin_client, patient, patient_persona):
    tracking_id = book(patient_persona[1], booking_body(patient.id)).json()["tracking_id"]
    page = admin_client.get(f"/admin/outbox/outboxevent/{tracking_id}/change/")
    assert page.status_code == 200 and "EncounterCreated" in page.content.decode()
