"""PATCH /api/encounters/{id}/notes: optimistic concurrency, validator, 422 shape, audit in the same transaction."""

import pytest
from prometheus_client import REGISTRY

from apps.audits.models import AuditEvent
from apps.encounters.models import Encounter
from tests.encounters.notes.note_scenario import note_url, patch_note
from tests.support.api import api_client

pytestmark = pytest.mark.django_db(databases="__all__")


def _clinician(world):
    return api_client(world.tokens["care_team_clinician"])


def _reload(encounter):
    return Encounter.objects.using(encounter._state.db).get(id=encounter.id)


def test_update_returns_new_etag_and_version(world):
    client = _clinician(world)
    first = client.get(note_url(world.encounter.id))
    assert first["ETag"] == '"note-v0"'
    response = patch_note(client, world.encounter.id, {"text": "Patient reports mild headache."})
    assert response.status_code == 200, response.content
    assert response["ETag"] == '"note-v1"'
    note = response.json()["note"]
    assert note["version"] == 1 and note["status"] == "draft" and note["text"] == "Patient reports mild headache."
    stored = _reload(world.encounter)
    assert stored.note_version == 1 and stored.note_updated_by_user_id == world.users["care_team_clinician"].pk


def test_stale_if_match_gets_412_with_current_version(world):
    client = _clinician(world)
    assert patch_note(client, world.encounter.id, {"text": "First."}, version=0).status_code == 200
    stale = patch_note(client, world.encounter.id, {"text": "Lost update?"}, version=0)
    assert stale.status_code == 412
    assert stale["Content-Type"] == "application/problem+json"
    body = stale.json()
    assert body["current_version"] == 1 and body["status"] == 412 and body["remediation"]
    assert stale["ETag"] == '"note-v1"'
    assert _reload(world.encounter).note_text == "First."


def test_missing_if_match_gets_428(world):
    response = patch_note(_clinician(world), world.encounter.id, {"text": "No precondition."}, version=None)
    assert response.status_code == 428
    assert "If-Match" in response.json()["remediation"]
    assert _reload(world.encounter).note_version == 0


def test_garbage_if_match_is_a_conflict(world):
    response = _clinician(world).patch(
        note_url(world.encounter.id), {"text": "x"}, format="json", HTTP_IF_MATCH='"something-else"'
    )
    assert response.status_code == 412 and response.json()["current_version"] == 0


def test_empty_body_is_400_problem(world):
    response = patch_note(_clinician(world), world.encounter.id, {})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["remediation"]


@pytest.mark.parametrize(
    ("text", "kind", "placeholder", "secret"),
    [
        ("SSN on intake form 123-45-6789, verified.", "ssn", "[REDACTED-SSN]", "123-45-6789"),
        ("SSN 123456789 read aloud.", "ssn", "[REDACTED-SSN]", "123456789"),
        ("Call back at (555) 123-4567 tomorrow.", "phone", "[REDACTED-PHONE]", "123-4567"),
        ("Daughter's mobile +44 20 7946 0958.", "phone", "[REDACTED-PHONE]", "7946 0958"),
        ("Results sent to jane.doe@example.org today.", "email", "[REDACTED-EMAIL]", "jane.doe@example.org"),
        ("Compare with MRN00012345 (sibling).", "mrn", "[REDACTED-MRN]", "MRN00012345"),
    ],
)
def test_each_redaction_rule_masks_and_reports(world, text, kind, placeholder, secret):
    response = patch_note(_clinician(world), world.encounter.id, {"text": text})
    assert response.status_code == 200, response.content
    body = response.json()
    assert secret not in body["note"]["text"] and placeholder in body["note"]["text"]
    assert {"kind": kind, "count": 1, "replacement": placeholder} in body["validation"]["redactions"]
    stored = _reload(world.encounter).note_text
    assert secret not in stored and placeholder in stored
    # The report names kinds and counts, never the value.
    assert secret not in response.content.decode()


def test_own_mrn_is_kept(world):
    own = world.patient.mrn
    response = patch_note(_clinician(world), world.encounter.id, {"text": f"Chart {own} reviewed."})
    assert response.json()["note"]["text"] == f"Chart {own} reviewed."
    assert response.json()["validation"]["redactions"] == []


def test_glossary_normalises_abbreviations_and_lay_terms(world):
    text = "Pt c/o SOB, hx of HTN and a heart attack; metoprolol b.i.d."
    response = patch_note(_clinician(world), world.encounter.id, {"text": text})
    body = response.json()
    assert body["note"]["text"] == (
        "Pt complains of shortness of breath, history of hypertension and a myocardial infarction; "
        "metoprolol twice daily"
    )
    normalised = {f["term"]: f["canonical"] for f in body["validation"]["glossary"]["normalised"]}
    assert normalised == {
        "c/o": "complains of",
        "SOB": "shortness of breath",
        "hx": "history",
        "HTN": "hypertension",
        "heart attack": "myocardial infarction",
        "b.i.d.": "twice daily",
    }
    assert body["validation"]["glossary"]["flagged"] == []


def test_glossary_flags_do_not_use_abbreviations_without_rewriting(world):
    text = "Insulin 10 U at night, aspirin QD."
    body = patch_note(_clinician(world), world.encounter.id, {"text": text}).json()
    assert body["note"]["text"] == text
    flagged = {f["term"]: f for f in body["validation"]["glossary"]["flagged"]}
    assert set(flagged) == {"U", "QD"}
    assert flagged["QD"]["canonical"] == "daily" and "daily" in flagged["QD"]["guidance"]
    assert flagged["U"]["category"] == "do_not_use"


def test_glossary_is_case_sensitive_where_it_must_be(world):
    # "MS" (do-not-use) must not fire on "ms" (milliseconds); "sob" in lower case is not the abbreviation.
    body = patch_note(_clinician(world), world.encounter.id, {"text": "Latency 20 ms; she began to sob."}).json()
    assert body["validation"]["glossary"] == {"normalised": [], "flagged": []}


def test_glossary_edit_in_the_catalog_takes_effect(world):
    from apps.encounters.models import GlossaryTerm
    from apps.encounters.notes.glossary import glossary_cache

    GlossaryTerm.objects.create(term="BP", canonical="blood pressure", action="normalise", category="abbreviation")
    glossary_cache.forget()
    body = patch_note(_clinician(world), world.encounter.id, {"text": "BP stable."}).json()
    assert body["note"]["text"] == "blood pressure stable."


def _sign(client, world, text="Assessment: stable angina."):
    response = patch_note(client, world.encounter.id, {"text": text, "status": "signed"})
    assert response.status_code == 200, response.content
    return response


def test_amending_a_signed_note_without_reason_is_422_problem(world):
    client = _clinician(world)
    _sign(client, world)
    response = patch_note(client, world.encounter.id, {"text": "Assessment: unstable angina."}, version=1)
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "https://pimlab.dev/problems/note-missing-context"
    assert body["title"] and body["status"] == 422 and body["detail"]
    assert "amendment_reason" in body["remediation"]
    assert body["missing"] == ["amendment_reason"]
    assert body["current_version"] == 1
    stored = _reload(world.encounter)
    assert stored.note_version == 1 and stored.note_text == "Assessment: stable angina."


def test_amendment_with_reason_is_recorded(world):
    client = _clinician(world)
    _sign(client, world)
    response = patch_note(
        client,
        world.encounter.id,
        {"text": "Assessment: unstable angina.", "amendment_reason": "Troponin result arrived"},
        version=1,
    )
    assert response.status_code == 200, response.content
    stored = _reload(world.encounter)
    assert stored.note_status == "signed" and stored.note_amendment_reason == "Troponin result arrived"
    event = AuditEvent.objects.using(stored._state.db).filter(resource_id=str(stored.id)).latest("occurred_at")
    assert event.action == "encounter.note.amended" and event.detail["amendment"] is True


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        ({"status": "signed"}, ["text"]),
        ({"text": "Draft.", "released": True}, ["status"]),
    ],
)
def test_other_missing_context_cases(world, body, missing):
    response = patch_note(_clinician(world), world.encounter.id, body)
    assert response.status_code == 422
    assert response.json()["missing"] == missing and response.json()["remediation"]


def test_signed_note_cannot_return_to_draft(world):
    client = _clinician(world)
    _sign(client, world)
    response = patch_note(client, world.encounter.id, {"status": "draft"}, version=1)
    assert response.status_code == 422


def test_resending_signed_text_unchanged_is_not_an_amendment(world):
    client = _clinician(world)
    _sign(client, world, text="Plan: metoprolol bid.")
    response = patch_note(client, world.encounter.id, {"text": "Plan: metoprolol bid.", "released": True}, version=1)
    assert response.status_code == 200, response.content
    assert response.json()["note"]["released"] is True


def test_every_mutation_writes_its_audit_event_in_the_same_transaction(world):
    client = _clinician(world)
    labels = {"shard_id": "shard_0", "outcome": "success", "actor_role": "clinician"}
    before = REGISTRY.get_sample_value("audit_event_write_total", labels) or 0
    _sign(client, world, text="Seen. SSN 123-45-6789.")
    alias = world.encounter._state.db
    events = AuditEvent.objects.using(alias).filter(resource_id=str(world.encounter.id), action="encounter.note.signed")
    assert events.count() == 1
    event = events.get()
    assert event.actor_role == "clinician" and event.request_id and event.trace_id
    assert event.detail["note_version"] == 1 and event.detail["redactions"] == {"ssn": 1}
    assert "Seen" not in str(event.detail)
    assert (REGISTRY.get_sample_value("audit_event_write_total", labels) or 0) >= before + 1
    assert REGISTRY.get_sample_value(
        "encounter_note_update_duration_count", {"outcome": "success", "shard_id": alias, "actor_role": "clinician"}
    )


def test_update_reads_the_patient_with_the_locked_encounter_and_locks_only_the_encounter(world):
    """One statement loads the encounter under its row lock together with its patient (the validator
    needs the MRN) and whether the clinician is on the care team: no separate patient or care-team
    query, and the patient row (shared by every visit) stays free."""
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    client = _clinician(world)
    alias = world.encounter._state.db
    with CaptureQueriesContext(connections[alias]) as queries:
        response = patch_note(client, world.encounter.id, {"text": "Seen today, feeling better."})
    assert response.status_code == 200, response.content
    statements = [q["sql"] for q in queries.captured_queries]
    locking = [sql for sql in statements if "FOR UPDATE" in sql]
    assert len(locking) == 1, statements
    assert '"patients_patient"' in locking[0] and locking[0].rstrip().endswith('FOR UPDATE OF "encounters_encounter"')
    assert '"patients_careteammember"' in locking[0]
    assert [sql for sql in statements if sql.lstrip().startswith("SELECT")] == locking, statements


def test_a_clinician_off_the_care_team_is_still_refused_with_the_care_team_read_in_the_lock(world):
    response = patch_note(api_client(world.tokens["other_clinician"]), world.encounter.id, {"text": "Not mine."})
    assert response.status_code == 404, response.content
    assert _reload(world.encounter).note_version == 0


# Real transactions: BEGIN and COMMIT are part of what is pinned.
@pytest.mark.django_db(databases="__all__", transaction=True)
def test_a_note_update_is_one_shard_transaction_of_one_read_and_three_writes(world):
    """The statements of one update are pinned: the locking read (by primary key, so neither ORDER BY
    nor LIMIT), the note, its history row and its audit event, in one transaction, and no statement
    on any other database (the token is resolved from the identity cache after the first call)."""
    from tests.encounters.test_booking_hot_path import AllConnectionsQueries, statement_kind

    client = _clinician(world)
    assert patch_note(client, world.encounter.id, {"text": "First visit."}, version=0).status_code == 200
    with AllConnectionsQueries() as queries:
        response = patch_note(client, world.encounter.id, {"text": "Seen today, feeling better."}, version=1)
    assert response.status_code == 200, response.content
    alias = world.encounter._state.db
    statements = queries.statements(alias)
    assert [statement_kind(sql) for sql in statements] == [
        "BEGIN",
        "SELECT encounters_encounter",
        "UPDATE encounters_encounter",
        "INSERT encounters_historicalencounter",
        "INSERT audits_auditevent",
        "COMMIT",
    ], statements
    assert "ORDER BY" not in statements[1] and "LIMIT" not in statements[1], statements[1]
    assert {other: queries.statements(other) for other in queries.contexts if other != alias} == {
        other: [] for other in queries.contexts if other != alias
    }


def test_the_update_body_built_directly_equals_the_output_serializer(world):
    from apps.encounters.notes.apis import EncounterNoteApi, _note_update_representation
    from apps.encounters.notes.selectors import note_as_dict

    client = _clinician(world)
    response = patch_note(client, world.encounter.id, {"text": "Seen. Call 555-123-4567. SOB improving."}, version=0)
    assert response.status_code == 200, response.content
    validation = response.json()["validation"]
    assert validation["redactions"] and validation["glossary"]["normalised"]
    never_updated = Encounter.objects.using(world.other_encounter._state.db).get(id=world.other_encounter.id)
    for encounter in (_reload(world.encounter), never_updated):
        serialized = EncounterNoteApi.UpdateOutputSerializer(
            {"encounter_id": encounter.id, "note": note_as_dict(encounter), "validation": validation}
        ).data
        assert _note_update_representation(encounter, validation=validation) == serialized
    assert response.json() == _note_update_representation(_reload(world.encounter), validation=validation)
