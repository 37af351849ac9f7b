"""Care-team membership decides who reads a patient's notes: adding or removing a member writes
a simple-history row and an AUDIT_EVENT in the same transaction on the patient's shard, and the
note access rule follows at once."""

from __future__ import annotations

import pytest
from django.db import DatabaseError

from apps.audits.models import AuditEvent
from apps.core.actors import Actor
from apps.encounters.selectors import clinician_relation
from apps.patients.errors import CareTeamMemberNotFound, PatientNotFound
from apps.patients.models import CareTeamMember
from apps.patients.selectors import care_team_clinician_ids
from apps.patients.services import care_team_member_add, care_team_member_remove, patient_create
from tests.factories import encounter_for, persona_user

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def operator():
    user, _token = persona_user("operator")
    return Actor.from_user(user)


@pytest.fixture
def patient():
    return patient_create(mrn="LAB0000042", given_name="Ada", family_name="Lovelace", birth_date="1990-12-10", bucket=3)


def audit_trail(patient) -> list[tuple[str, str, str, int | None]]:
    return list(
        AuditEvent.objects.using(patient._state.db)
        .filter(patient_id=patient.id, resource_type="care_team_member")
        .order_by("occurred_at", "id")
        .values_list("action", "resource_id", "outcome", "actor_user_id")
    )


def test_adding_then_removing_a_member_writes_history_and_audit_events(patient, operator):
    clinician, _ = persona_user("clinician")
    encounter = encounter_for(patient)
    assert clinician_relation(clinician_user_id=clinician.pk, encounter=encounter) is None

    added = care_team_member_add(
        actor=operator, patient_id=patient.id, clinician_user_id=clinician.pk, reason="cover for leave"
    )
    assert added.changed and care_team_clinician_ids(patient_id=patient.id) == [clinician.pk]
    assert clinician_relation(clinician_user_id=clinician.pk, encounter=encounter) == "care team member"

    removed = care_team_member_remove(actor=operator, patient_id=patient.id, clinician_user_id=clinician.pk)
    assert removed.changed and care_team_clinician_ids(patient_id=patient.id) == []
    assert clinician_relation(clinician_user_id=clinician.pk, encounter=encounter) is None

    member_id = str(added.member.id)
    assert audit_trail(patient) == [
        ("care_team_member.added", member_id, "success", operator.user_id),
        ("care_team_member.removed", member_id, "success", operator.user_id),
    ]
    added_event = AuditEvent.objects.using(patient._state.db).get(action="care_team_member.added")
    assert added_event.detail == {"clinician_user_id": str(clinician.pk), "reason": "cover for leave"}

    history = list(
        CareTeamMember.history.using(patient._state.db)
        .filter(id=added.member.id)
        .order_by("history_date", "history_id")
        .values_list("history_type", "clinician_user_id", "history_user_id", "history_change_reason")
    )
    assert history == [
        ("+", clinician.pk, operator.user_id, "cover for leave"),
        ("-", clinician.pk, operator.user_id, "care team member removed"),
    ]


def test_adding_a_member_twice_changes_and_records_nothing(patient, operator):
    care_team_member_add(actor=operator, patient_id=patient.id, clinician_user_id=4242)
    again = care_team_member_add(actor=operator, patient_id=patient.id, clinician_user_id=4242)
    assert not again.changed
    assert [row[0] for row in audit_trail(patient)] == ["care_team_member.added"]
    assert CareTeamMember.history.using(patient._state.db).filter(patient_id=patient.id).count() == 1


def test_refusals_write_nothing(patient, operator):
    with pytest.raises(CareTeamMemberNotFound):
        care_team_member_remove(actor=operator, patient_id=patient.id, clinician_user_id=4242)
    with pytest.raises(PatientNotFound):
        care_team_member_add(actor=operator, patient_id=patient.id + 1, clinician_user_id=4242)
    assert audit_trail(patient) == []
    assert CareTeamMember.history.using(patient._state.db).count() == 0


def test_a_failed_audit_write_leaves_no_member_and_no_history(patient, operator, monkeypatch):
    import apps.outbox.changes as changes

    def audit_store_refuses(**kwargs):
        raise DatabaseError("audit insert failed")

    monkeypatch.setattr(changes, "audit_event_record", audit_store_refuses)
    with pytest.raises(DatabaseError):
        care_team_member_add(actor=operator, patient_id=patient.id, clinician_user_id=4242)
    assert not CareTeamMember.objects.using(patient._state.db).filter(patient_id=patient.id).exists()
    assert CareTeamMember.history.using(patient._state.db).count() == 0
