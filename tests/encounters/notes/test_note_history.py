"""Temporal history: versions with field-level diffs, ?as_of=, the admin view, and history-write failure."""

import json

import pytest
from django.db import connections
from django.utils import timezone

from apps.audits.models import AuditEvent
from apps.encounters.models import Encounter
from apps.slo.models import AlertEvent
from tests.encounters.notes.note_scenario import note_url, patch_note
from tests.support.api import api_client
from tests.support.logs import rendered_log_lines

pytestmark = pytest.mark.django_db(databases="__all__")


def _write_three_versions(world):
    client = api_client(world.tokens["care_team_clinician"])
    stamps = []
    for version, body in enumerate(
        [
            {"text": "v1: cough for 3 days."},
            {"text": "v2: cough for 3 days, afebrile.", "status": "signed"},
            {"text": "v3: cough for 5 days, afebrile.", "amendment_reason": "Corrected duration", "released": True},
        ]
    ):
        response = patch_note(client, world.encounter.id, body, version=version)
        assert response.status_code == 200, response.content
        stamps.append(timezone.now())
    return client, stamps


def test_history_lists_versions_with_field_level_diffs(world):
    client, _ = _write_three_versions(world)
    response = client.get(note_url(world.encounter.id) + "/history")
    assert response.status_code == 200
    versions = response.json()["versions"]
    assert [v["note_version"] for v in versions] == [0, 1, 2, 3]
    assert versions[0]["history_type"] == "+"
    changes = {c["field"]: (c["old"], c["new"]) for c in versions[2]["changes"]}
    assert changes["note_text"] == ("v1: cough for 3 days.", "v2: cough for 3 days, afebrile.")
    assert changes["note_status"] == ("draft", "signed")
    assert changes["note_version"] == (1, 2)
    last = {c["field"]: (c["old"], c["new"]) for c in versions[3]["changes"]}
    assert last["note_released"] == (False, True)
    assert last["note_amendment_reason"] == ("", "Corrected duration")
    assert versions[3]["change_reason"] == "Corrected duration"
    assert versions[3]["changed_by_user_id"] == str(world.users["care_team_clinician"].pk)


def test_as_of_returns_the_note_as_it_was(world):
    client, stamps = _write_three_versions(world)
    url = note_url(world.encounter.id) + "/history"
    at_v2 = client.get(url, {"as_of": stamps[1].isoformat()})
    assert at_v2.status_code == 200
    assert at_v2.json()["note"]["text"] == "v2: cough for 3 days, afebrile."
    assert at_v2.json()["note"]["status"] == "signed"
    at_v1 = client.get(url, {"as_of": stamps[0].isoformat()})
    assert at_v1.json()["note"]["version"] == 1
    before = client.get(url, {"as_of": "2000-01-01T00:00:00Z"})
    assert before.status_code == 404
    bad = client.get(url, {"as_of": "yesterday"})
    assert bad.status_code == 400 and bad.json()["remediation"]


def test_forced_history_failure_aborts_everything_with_503_and_an_incident(world):
    alias = world.encounter._state.db
    client = api_client(world.tokens["care_team_clinician"])
    audit_before = AuditEvent.objects.using(alias).filter(resource_id=str(world.encounter.id)).count()
    history_before = Encounter.history.using(alias).filter(id=world.encounter.id).count()
    with connections[alias].cursor() as cursor:
        # A real database failure on the history table only (rolled back with the test).
        cursor.execute(
            "ALTER TABLE encounters_historicalencounter ADD CONSTRAINT history_write_blocked CHECK (false) NOT VALID"
        )
    secret = "Confidential assessment text 4711"
    with rendered_log_lines() as lines:
        response = patch_note(client, world.encounter.id, {"text": secret})
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] and response.json()["remediation"]
    stored = Encounter.objects.using(alias).get(id=world.encounter.id)
    assert stored.note_version == 0 and stored.note_text == ""
    assert AuditEvent.objects.using(alias).filter(resource_id=str(world.encounter.id)).count() == audit_before
    assert Encounter.history.using(alias).filter(id=world.encounter.id).count() == history_before
    incidents = [json.loads(line) for line in lines if "temporal_history_write_failed" in line]
    assert len(incidents) == 1
    incident = incidents[0]
    assert incident["incident"] is True and incident["level"] == "error"
    assert incident["runbook"] == "docs/runbooks/07_temporal-history-repair.md"
    assert incident["request_id"] and incident["actor_role"] == "clinician" and incident["shard_id"] == alias
    assert AlertEvent.objects.filter(name="TemporalHistoryWriteFailed", status="firing").exists()
    assert not any(secret in line for line in lines)


def test_admin_shows_history_with_diffs_and_refuses_revert(world, admin_client):
    _write_three_versions(world)
    url = f"/admin/encounters/encounter/{world.encounter.id}/history/"
    page = admin_client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "v2: cough for 3 days, afebrile." in html and "Corrected duration" in html
    history_id = (
        Encounter.history.using(world.encounter._state.db)
        .filter(id=world.encounter.id)
        .earliest("history_date")
        .history_id
    )
    revert = admin_client.post(f"/admin/encounters/encounter/{world.encounter.id}/history/{history_id}/", {})
    assert revert.status_code == 403
    assert Encounter.objects.using(world.encounter._state.db).get(id=world.encounter.id).note_version == 3
