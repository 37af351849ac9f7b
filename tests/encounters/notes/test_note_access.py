"""Role and row-level checks: each persona × own/other encounter → expected status, denied attempts audited."""

import pytest

from apps.audits.models import AuditEvent
from tests.encounters.notes.note_scenario import note_url, patch_note
from tests.support.api import api_client

pytestmark = pytest.mark.django_db(databases="__all__")

# (persona, target, PATCH status, GET status). "own" = the encounter of the patient whose care team,
# assigned clinician or own patient the persona is; "other" = another patient's encounter.
MATRIX = [
    ("care_team_clinician", "own", 200, 200),
    ("assigned_clinician", "own", 200, 200),
    ("other_clinician", "own", 404, 404),
    ("care_team_clinician", "other", 404, 404),
    ("own_patient", "own", 403, 200),
    ("other_patient", "own", 404, 404),
    ("own_patient", "other", 404, 404),
    ("billing_admin", "own", 404, 404),
    ("sre", "own", 404, 404),
    ("operator", "own", 404, 404),
]


def _release_note(world):
    """Sign and release the note as the care team so the patient has something to read."""
    client = api_client(world.tokens["care_team_clinician"])
    response = patch_note(client, world.encounter.id, {"text": "Stable.", "status": "signed", "released": True})
    assert response.status_code == 200, response.content


def _denied_events(encounter):
    return list(AuditEvent.objects.using(encounter._state.db).filter(resource_id=str(encounter.id), outcome="denied"))


@pytest.mark.parametrize(("persona", "target", "patch_status", "get_status"), MATRIX)
def test_role_row_matrix(world, persona, target, patch_status, get_status):
    _release_note(world)
    encounter = world.encounter if target == "own" else world.other_encounter
    client = api_client(world.tokens[persona])
    current = api_client(world.tokens["care_team_clinician"]).get(note_url(world.encounter.id))["ETag"]
    version = int(current.strip('"').removeprefix("note-v")) if target == "own" else 0
    denied_before = len(_denied_events(encounter))

    patched = patch_note(
        client, encounter.id, {"text": "Changed by " + persona, "amendment_reason": "matrix"}, version=version
    )
    read = client.get(note_url(encounter.id))

    assert patched.status_code == patch_status, patched.content
    assert read.status_code == get_status, read.content
    denied = _denied_events(encounter)[denied_before:]
    expected_denials = (patch_status in (403, 404)) + (get_status == 404)
    assert len(denied) == expected_denials
    for event in denied:
        assert event.actor_user_id == world.users[persona].pk
        assert event.actor_role == world.users[persona].persona.role
        assert event.patient_id == encounter.patient_id
    if patch_status == 404:
        # Indistinguishable from an id that does not exist: no existence leak.
        missing = client.patch(note_url(encounter.id + 1), {"text": "x"}, format="json", HTTP_IF_MATCH='"note-v0"')
        assert missing.status_code == 404
        assert missing.json()["detail"] == patched.json()["detail"]


def test_patient_cannot_read_unreleased_note(world):
    clinician = api_client(world.tokens["care_team_clinician"])
    assert patch_note(clinician, world.encounter.id, {"text": "Draft only."}).status_code == 200
    response = api_client(world.tokens["own_patient"]).get(note_url(world.encounter.id))
    assert response.status_code == 404
    assert "Draft only." not in response.content.decode()


def test_patient_reads_released_note(world):
    _release_note(world)
    response = api_client(world.tokens["own_patient"]).get(note_url(world.encounter.id))
    assert response.status_code == 200
    assert response.json()["note"]["text"] == "Stable."
    assert response["ETag"] == '"note-v1"'


def test_history_is_for_the_care_team_only(world):
    _release_note(world)
    url = note_url(world.encounter.id) + "/history"
    assert api_client(world.tokens["care_team_clinician"]).get(url).status_code == 200
    before = len(_denied_events(world.encounter))
    assert api_client(world.tokens["own_patient"]).get(url).status_code == 404
    assert api_client(world.tokens["other_clinician"]).get(url).status_code == 404
    assert len(_denied_events(world.encounter)) == before + 2


def test_unauthenticated_gets_401():
    from rest_framework.test import APIClient

    response = APIClient().get(note_url(12345678901234))
    assert response.status_code == 401
