"""Row rules of encounter reads and bookings (docs/access-policy.md), on PostgreSQL: every read is
audited with its purpose, a refusal is a 404 with a denied audit event, break-glass alerts."""

from __future__ import annotations

import pytest

from apps.audits.models import AuditEvent
from apps.encounters.models import Encounter
from apps.slo.models import AlertEvent
from tests.encounters.conftest import book, booking_body
from tests.factories import care_team_member, encounter_for
from tests.support.api import api_client

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def visit(patient):
    return encounter_for(patient, reason="Chest pain since Monday")


def read(token, encounter, **headers):
    return api_client(token).get(f"/api/encounters/{encounter.id}", **headers)


def audit_of(encounter, **filters):
    return AuditEvent.objects.using(encounter._state.db).filter(resource_id=str(encounter.id), **filters)


def test_care_team_clinician_reads_and_the_read_is_audited_for_treatment(visit, patient, clinician_persona):
    user, token = clinician_persona
    care_team_member(patient, user)
    response = read(token, visit)
    assert response.status_code == 200 and response.json()["reason"] == "Chest pain since Monday"
    event = audit_of(visit, action="encounter.read").get()
    assert (event.outcome, event.actor_user_id, event.actor_role) == ("success", user.pk, "clinician")
    assert event.detail["purpose"] == "treatment"


def test_clinician_off_the_care_team_gets_404_and_a_denied_event(visit, clinician_persona):
    user, token = clinician_persona
    response = read(token, visit)
    assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"
    assert "Chest pain" not in response.content.decode()
    assert audit_of(visit, action="encounter.read", outcome="denied", actor_user_id=user.pk).count() == 1


def test_break_glass_read_is_allowed_audited_and_alerts(visit, clinician_persona):
    user, token = clinician_persona
    response = read(token, visit, HTTP_BREAK_GLASS_REASON="Unconscious in ED, call 555-123-4567")
    assert response.status_code == 200
    event = audit_of(visit, action="encounter.break_glass_read").get()
    assert event.detail["purpose"] == "emergency treatment" and event.outcome == "success"
    assert event.detail["break_glass_reason"] == "Unconscious in ED, call [REDACTED-PHONE]"
    alert = AlertEvent.objects.get(name="BreakGlassAccess")
    assert alert.status == "firing" and alert.labels["actor_user_id"] == str(user.pk)
    assert alert.annotations["encounter_id"] == str(visit.id)


@pytest.mark.parametrize("exists", [True, False])
def test_a_break_glass_reason_too_short_to_act_on_is_refused_before_any_lookup(visit, clinician_persona, exists):
    token = clinician_persona[1]
    path = f"/api/encounters/{visit.id if exists else visit.id + 1}"
    response = api_client(token).get(path, HTTP_BREAK_GLASS_REASON="need it")
    body = response.json()
    assert response.status_code == 422 and body["code"] == "break_glass_reason_too_short"  # same answer either way
    assert "at least 15 characters" in body["detail"] and "emergency" in body["remediation"]
    assert not audit_of(visit).exists() and not AlertEvent.objects.filter(name="BreakGlassAccess").exists()


def test_billing_admin_gets_the_billing_view_without_free_text(visit, billing_persona):
    response = read(billing_persona[1], visit)
    assert response.status_code == 200 and "reason" not in response.json()
    assert audit_of(visit, action="encounter.read").get().detail["purpose"] == "payment"


def test_other_patient_gets_404_with_a_denied_event(visit, other_patient):
    from apps.core.models import PersonaRole
    from tests.factories import persona_user

    _, token = persona_user(PersonaRole.PATIENT, patient=other_patient)
    assert read(token, visit).status_code == 404
    assert audit_of(visit, outcome="denied").count() == 1


def test_booking_reason_is_redacted_before_it_is_stored(patient, patient_persona):
    _, token = patient_persona
    body = booking_body(patient.id, reason="Refill; DOB 03/12/1975, SSN 123.45.6789, call 5551234567, LAB0000042")
    response = book(token, body)
    assert response.status_code == 202, response.content
    stored = Encounter.objects.using("shard_0").get(pk=int(response.json()["id"])).reason
    assert stored == "Refill; DOB [REDACTED-DOB], SSN [REDACTED-SSN], call [REDACTED-PHONE], [REDACTED-MRN]"


def test_lists_follow_the_row_rule_and_audit_one_event_per_page(patient, other_patient, clinician_persona):
    from apps.core.actors import Actor
    from apps.encounters.access import encounter_list_audit
    from apps.encounters.selectors import encounters_visible_to

    user, _ = clinician_persona
    care_team_member(patient, user)
    mine = [encounter_for(patient), encounter_for(patient)]
    encounter_for(other_patient)
    actor = Actor.from_user(user)
    listed = encounters_visible_to(actor=actor)
    assert {e.id for e in listed} == {e.id for e in mine}
    encounter_list_audit(actor=actor, encounters=listed, purpose="treatment")
    event = AuditEvent.objects.using("shard_0").get(action="encounter.listed")
    assert event.detail["rows"] == 2 and event.detail["patient_ids"] == [str(patient.id)]
    assert encounters_visible_to(actor=Actor(user_id=1, role="operator")) == []
