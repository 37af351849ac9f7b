"""Building blocks shared by the clinical-notes tests (plain functions, usable from any test module)."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework.test import APIClient

from apps.encounters.notes.glossary import glossary_cache, glossary_terms_load
from tests.factories import PatientFactory, care_team_member, encounter_for, persona_user


@dataclass
class NoteWorld:
    """Two patients on different shards, each with an encounter, and one persona of every kind."""

    patient: object
    other_patient: object
    encounter: object
    other_encounter: object
    tokens: dict
    users: dict


def note_world() -> NoteWorld:
    glossary_terms_load()
    glossary_cache.forget()
    patient = PatientFactory(bucket=10)  # shard_0
    other_patient = PatientFactory(bucket=900)  # shard_1
    users, tokens = {}, {}
    for name, role, owner in (
        ("care_team_clinician", "clinician", None),
        ("assigned_clinician", "clinician", None),
        ("other_clinician", "clinician", None),
        ("own_patient", "patient", patient),
        ("other_patient", "patient", other_patient),
        ("billing_admin", "billing_admin", None),
        ("sre", "sre", None),
        ("operator", "operator", None),
    ):
        users[name], tokens[name] = persona_user(role, patient=owner)
    care_team_member(patient, users["care_team_clinician"])
    care_team_member(other_patient, users["other_clinician"])
    encounter = encounter_for(patient, booked_by=users["own_patient"], clinician=users["assigned_clinician"])
    other_encounter = encounter_for(other_patient, booked_by=users["other_patient"])
    return NoteWorld(patient, other_patient, encounter, other_encounter, tokens, users)


def note_url(encounter_id) -> str:
    return f"/api/encounters/{encounter_id}/notes"


def patch_note(client: APIClient, encounter_id, body: dict, *, version: int | None = 0):
    headers = {} if version is None else {"HTTP_IF_MATCH": f'"note-v{version}"'}
    return client.patch(note_url(encounter_id), body, format="json", **headers)
