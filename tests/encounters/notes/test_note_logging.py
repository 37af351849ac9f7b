"""Logs: note content never appears; lines of the notes flow always carry actor_role and request_id."""

import json

import pytest

from tests.encounters.notes.note_scenario import note_url, patch_note
from tests.support.api import api_client
from tests.support.logs import rendered_log_lines

pytestmark = pytest.mark.django_db(databases="__all__")

SECRET_PHRASES = ["Zebra-striped rash on left forearm", "Quokka allergy suspected", "Wombat dosage plan"]


def test_no_note_text_in_any_log_line_and_correlation_fields_always_present(world):
    clinician = api_client(world.tokens["care_team_clinician"])
    stranger = api_client(world.tokens["other_clinician"])
    with rendered_log_lines() as lines:
        assert patch_note(clinician, world.encounter.id, {"text": SECRET_PHRASES[0] + " SOB"}).status_code == 200
        assert patch_note(clinician, world.encounter.id, {"text": SECRET_PHRASES[1]}, version=0).status_code == 412
        signed = patch_note(clinician, world.encounter.id, {"text": SECRET_PHRASES[1], "status": "signed"}, version=1)
        assert signed.status_code == 200
        assert patch_note(clinician, world.encounter.id, {"text": SECRET_PHRASES[2]}, version=2).status_code == 422
        assert patch_note(stranger, world.encounter.id, {"text": SECRET_PHRASES[2]}, version=2).status_code == 404
        assert clinician.get(note_url(world.encounter.id) + "/history").status_code == 200
    assert lines, "the flow logged nothing"
    for line in lines:
        for phrase in SECRET_PHRASES:
            assert phrase not in line
    records = [json.loads(line) for line in lines if line.startswith("{")]
    flow = [r for r in records if r.get("logger", "").startswith(("apps.", "django_structlog"))]
    assert {r["event"] for r in flow} >= {
        "encounter_note_updated",
        "encounter_note_request",
        "encounter_note_access_denied",
        "request_finished",
    }
    for record in flow:
        if record["event"] == "request_started":
            continue  # logged before token authentication has identified the persona
        assert record.get("request_id"), record
        assert record.get("actor_role") in {"clinician"}, record
        assert record.get("trace_id"), record
    updated = [r for r in flow if r["event"] == "encounter_note_updated"]
    assert all(r["shard_id"] == world.encounter._state.db for r in updated)
