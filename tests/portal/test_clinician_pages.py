"""Clinician pages through Django's test client: the note editor uses the API's services."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audits.models import AuditEvent
from apps.encounters.models import Encounter
from tests.factories import encounter_for

from .conftest import browser_for

pytestmark = pytest.mark.django_db(databases="__all__")


def save(client, encounter, *, text, version, intent="draft", **extra):
    body = {"text": text, "version": version, "intent": intent, **extra}
    return client.post(f"/encounters/{encounter.id}/note", body)


def fresh(encounter) -> Encounter:
    return Encounter.objects.using(encounter._state.db).get(pk=encounter.id)


def test_worklist_shows_care_team_visits_only_and_filters(lab):
    mine = encounter_for(lab["patient_record"], reason="Chest pain review")
    encounter_for(lab["other_record"], reason="Someone else's visit")
    client = browser_for(lab["clinician"])
    html = client.get("/worklist").content.decode()
    assert "Chest pain review" in html and "Someone else" not in html and f"/encounters/{mine.id}" in html
    assert "LAB0000042" in client.get("/worklist?q=LAB0000042").content.decode()
    assert "Chest pain review" not in client.get("/worklist?q=LAB0000099").content.decode()
    assert "No visits match" in client.get("/worklist?scope=today").content.decode()


def test_a_stranger_clinician_gets_404_and_the_refusal_is_audited(lab):
    encounter = encounter_for(lab["patient_record"])
    response = browser_for(lab["stranger"]).get(f"/encounters/{encounter.id}")
    assert response.status_code == 404 and "Page not found" in response.content.decode()
    refused = AuditEvent.objects.using("shard_0").filter(action="encounter.read", outcome="denied").get()
    assert refused.actor_user_id == lab["stranger"].pk and refused.resource_id == str(encounter.id)


def test_draft_sign_and_amend_with_a_reason(lab):
    encounter = encounter_for(lab["patient_record"])
    client = browser_for(lab["clinician"])
    assert save(client, encounter, text="Cough, no fever.", version=0).status_code == 302
    assert fresh(encounter).note_status == "draft"
    assert save(client, encounter, text="Cough, no fever.", version=1, intent="sign").status_code == 302
    assert fresh(encounter).note_status == "signed"
    refused = save(client, encounter, text="Cough, low fever.", version=2, intent="amend")
    html = refused.content.decode()
    assert refused.status_code == 422 and 'id="id_amendment_reason-error"' in html and "needs a reason" in html
    assert "Cough, low fever." in html  # what the clinician typed is kept
    done = save(client, encounter, text="Cough, low fever.", version=2, intent="amend", amendment_reason="fever")
    assert done.status_code == 302
    assert fresh(encounter).note_amendment_reason == "fever" and fresh(encounter).note_version == 3


def test_preview_says_what_the_validator_masks_before_saving(lab):
    encounter = encounter_for(lab["patient_record"])
    response = browser_for(lab["clinician"]).post(
        f"/encounters/{encounter.id}/note/preview",
        {"text": "Call 555-123-4567 or mail ada@example.com", "version": 0},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert "phone" in html and "email" in html and "[REDACTED-PHONE]" in html
    assert fresh(encounter).note_version == 0


def test_stale_version_shows_the_conflict_page_with_both_versions(lab):
    encounter = encounter_for(lab["patient_record"])
    assert save(browser_for(lab["clinician2"]), encounter, text="Theirs", version=0).status_code == 302
    response = save(browser_for(lab["clinician"]), encounter, text="Mine", version=0)
    html = response.content.decode()
    assert response.status_code == 409
    assert 'id="current-text">Theirs<' in html and "Mine</textarea>" in html
    assert 'name="version" value="1"' in html
    assert fresh(encounter).note_text == "Theirs"


def test_history_lists_revisions_and_shows_the_note_as_of_a_moment(lab):
    encounter = encounter_for(lab["patient_record"])
    client = browser_for(lab["clinician"])
    save(client, encounter, text="First text", version=0)
    time.sleep(1.1)  # the as-of picker has one-second resolution
    between = timezone.now()
    time.sleep(1.1)
    save(client, encounter, text="Second text", version=1)
    html = client.get(f"/encounters/{encounter.id}/history").content.decode()
    assert "First text" in html and "Second text" in html
    as_of = client.get(f"/encounters/{encounter.id}/history", {"as_of": between.strftime("%Y-%m-%dT%H:%M:%S")})
    page = as_of.content.decode()
    assert 'id="as-of-text">First text<' in page


def test_finish_refuses_a_visit_that_has_not_started_and_finishes_a_started_one(lab):
    future = encounter_for(lab["patient_record"])
    client = browser_for(lab["clinician"])
    refused = client.post(f"/encounters/{future.id}/finish")
    assert refused.status_code == 409 and "cannot be finished before it starts" in refused.content.decode()
    started = encounter_for(lab["patient_record"], requested_start=timezone.now() - timedelta(hours=1))
    assert client.post(f"/encounters/{started.id}/finish").status_code == 302
    assert fresh(started).status == "finished"


@pytest.mark.parametrize("persona", ["patient", "billing"])
def test_clinician_pages_refuse_other_personas(lab, persona):
    encounter = encounter_for(lab["patient_record"])
    for path in ("/worklist", f"/encounters/{encounter.id}", f"/encounters/{encounter.id}/history"):
        response = browser_for(lab[persona]).get(path)
        assert response.status_code == 403, path


def test_glossary_problems_appear_inline_with_their_guidance(lab):
    from apps.encounters.notes.glossary import glossary_terms_load

    glossary_terms_load()
    encounter = encounter_for(lab["patient_record"])
    response = browser_for(lab["clinician"]).post(
        f"/encounters/{encounter.id}/note",
        {"text": "Metformin 500 mg QD for high blood pressure", "version": 0, "intent": "preview"},
    )
    html = response.content.decode()
    assert 'id="glossary-problems"' in html and "Mistaken for QID" in html
    assert 'id="glossary-normalised"' in html and "hypertension" in html
    assert fresh(encounter).note_version == 0  # a preview saves nothing
