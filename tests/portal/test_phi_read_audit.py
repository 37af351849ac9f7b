"""Every portal page that shows PHI writes ONE audit event per page view (a list: one per page),
naming the reader, their role, the resource and the purpose (HIPAA 164.312(b)), through the same
shard table and chain as the API. Break-glass: the refusal page offers it; a stated reason opens the
visit read-only, audited as a break-glass read, with the privacy officer's alert."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from apps.audits.models import AuditEvent
from apps.claims.models import Claim
from apps.core.models import PersonaRole
from apps.slo.models import AlertEvent
from tests.factories import EncounterFactory, encounter_for, persona_user

from .conftest import browser_for

pytestmark = pytest.mark.django_db(databases="__all__")

SHARDS = [alias for alias in settings.DATABASES if alias.startswith("shard_")]


def audited(client, path: str, *, method: str = "get", data=None, status: int = 200) -> list[AuditEvent]:
    """The audit events written (on any shard) while ``client`` opens ``path``."""
    before = {
        alias: AuditEvent.objects.using(alias).order_by("-id").values_list("id", flat=True).first() or 0
        for alias in SHARDS
    }
    response = getattr(client, method)(path, data or {})
    assert response.status_code == status, (path, response.status_code)
    return [
        event
        for alias in SHARDS
        for event in AuditEvent.objects.using(alias).filter(id__gt=before[alias]).order_by("id")
    ]


def only(events: list[AuditEvent]) -> AuditEvent:
    assert len(events) == 1, [(e.action, e.resource_type, e.resource_id) for e in events]
    return events[0]


def assert_event(event, *, user, role, action, resource_type, purpose, resource_id=None, outcome="success"):
    assert (event.actor_user_id, event.actor_role) == (user.pk, role)
    assert (event.action, event.resource_type, event.outcome) == (action, resource_type, outcome)
    assert event.detail["purpose"] == purpose
    if resource_id is not None:
        assert event.resource_id == str(resource_id)


def claim_for(lab, patient=None, **fields) -> Claim:
    encounter = EncounterFactory(patient=patient or lab["patient_record"])
    claim = Claim(
        patient=encounter.patient, encounter=encounter, payer_code="ACME-HEALTH", total_amount=Decimal("10.00"),
        retention_class="standard", submitted_by_user_id=lab["billing"].pk, idempotency_key=uuid.uuid4().hex,
        request_fingerprint="0" * 64, submitted_at=timezone.now(), **fields,
    )  # fmt: skip
    claim.save(using=encounter._state.db)
    return claim


# ---- patient ---------------------------------------------------------------------------------


def test_my_visits_writes_one_listed_event_naming_the_patient(lab):
    for index in range(3):
        encounter_for(lab["patient_record"], reason=f"Visit {index}")
    event = only(audited(browser_for(lab["patient"]), "/visits/"))
    assert_event(
        event, user=lab["patient"], role="patient", action="encounter.listed", resource_type="encounter",
        purpose="patient access",
    )  # fmt: skip
    assert event.detail["rows"] == 3 and event.detail["patient_ids"] == [str(lab["patient_record"].id)]
    assert event.patient_id == lab["patient_record"].id


def test_a_visit_page_writes_one_read_event_for_patient_access(lab):
    encounter = encounter_for(lab["patient_record"], note_text="Rest.", note_status="signed", note_released=False)
    event = only(audited(browser_for(lab["patient"]), f"/visits/{encounter.id}"))
    assert_event(
        event, user=lab["patient"], role="patient", action="encounter.read", resource_type="encounter",
        purpose="patient access", resource_id=encounter.id,
    )  # fmt: skip
    assert "note_shown" not in event.detail  # not released: the page does not show it


def test_another_patients_visit_is_a_denied_read(lab):
    theirs = encounter_for(lab["other_record"])
    event = only(audited(browser_for(lab["patient"]), f"/visits/{theirs.id}", status=404))
    assert_event(
        event, user=lab["patient"], role="patient", action="encounter.read", resource_type="encounter",
        purpose="none", resource_id=theirs.id, outcome="denied",
    )  # fmt: skip


# ---- clinician -------------------------------------------------------------------------------


def test_the_worklist_writes_one_event_per_page_not_per_row(lab):
    client = browser_for(lab["clinician"])
    assert audited(client, "/worklist") == []  # an empty page shows no PHI and writes nothing
    start = timezone.now() + timedelta(days=1)
    for index in range(23):  # 20 a page: two pages
        encounter_for(lab["patient_record"], reason=f"Visit {index}", requested_start=start + timedelta(minutes=index))
    first = only(audited(client, "/worklist"))
    second = only(audited(client, "/worklist?page=2"))
    for event, page, rows in ((first, 1, 20), (second, 2, 3)):
        assert_event(
            event, user=lab["clinician"], role="clinician", action="encounter.listed", resource_type="encounter",
            purpose="treatment",
        )  # fmt: skip
        assert (event.detail["page"], event.detail["rows"]) == (page, rows)


def test_the_encounter_page_writes_one_read_event_with_its_note(lab):
    encounter = encounter_for(lab["patient_record"], note_text="Cough.")
    event = only(audited(browser_for(lab["clinician"]), f"/encounters/{encounter.id}"))
    assert_event(
        event, user=lab["clinician"], role="clinician", action="encounter.read", resource_type="encounter",
        purpose="treatment", resource_id=encounter.id,
    )  # fmt: skip
    assert event.detail["note_shown"] is True


def test_the_note_history_page_writes_one_event_with_its_purpose(lab):
    encounter = encounter_for(lab["patient_record"])
    event = only(audited(browser_for(lab["clinician"]), f"/encounters/{encounter.id}/history"))
    assert_event(
        event, user=lab["clinician"], role="clinician", action="encounter.note.history_read",
        resource_type="encounter_note", purpose="treatment", resource_id=encounter.id,
    )  # fmt: skip


def test_the_finish_confirmation_writes_one_read_event(lab):
    encounter = encounter_for(lab["patient_record"], requested_start=timezone.now() - timedelta(hours=1))
    event = only(audited(browser_for(lab["clinician"]), f"/encounters/{encounter.id}/finish"))
    assert_event(
        event, user=lab["clinician"], role="clinician", action="encounter.read", resource_type="encounter",
        purpose="treatment", resource_id=encounter.id,
    )  # fmt: skip


# ---- billing admin and operator --------------------------------------------------------------


def test_ready_to_bill_writes_one_listed_event_for_payment(lab):
    for _ in range(3):
        EncounterFactory(patient=lab["patient_record"])
    event = only(audited(browser_for(lab["billing"]), "/billing/ready"))
    assert_event(
        event, user=lab["billing"], role="billing_admin", action="encounter.listed", resource_type="encounter",
        purpose="payment",
    )  # fmt: skip
    assert event.detail["rows"] == 3


def test_the_claim_form_writes_one_billing_read_of_the_visit(lab):
    encounter = EncounterFactory(patient=lab["patient_record"])
    event = only(audited(browser_for(lab["billing"]), f"/claims/new?encounter={encounter.id}"))
    assert_event(
        event, user=lab["billing"], role="billing_admin", action="encounter.read", resource_type="encounter",
        purpose="payment", resource_id=encounter.id,
    )  # fmt: skip
    assert event.detail["view"] == "billing"


@pytest.mark.parametrize(("persona", "purpose"), [("billing", "payment"), ("operator", "operations")])
def test_the_claims_list_and_a_claim_write_one_event_each_with_the_readers_purpose(lab, persona, purpose):
    readers = {"billing": lab["billing"]}
    readers["operator"] = persona_user(PersonaRole.OPERATOR, username="ops.olga")[0]
    for _ in range(3):
        claim_for(lab)
    event = only(audited(browser_for(readers[persona]), "/claims/"))
    role = {"billing": "billing_admin", "operator": "operator"}[persona]
    assert_event(event, user=readers[persona], role=role, action="claim.listed", resource_type="claim", purpose=purpose)
    assert event.detail["rows"] == 3 and event.detail["patient_ids"] == [str(lab["patient_record"].id)]


# ---- break-glass -----------------------------------------------------------------------------


def test_the_refusal_page_offers_break_glass_and_audits_the_refusal(lab):
    encounter = encounter_for(lab["patient_record"], reason="Chest pain since Monday")
    client = browser_for(lab["stranger"])
    response = client.get(f"/encounters/{encounter.id}")
    html = response.content.decode()
    assert response.status_code == 404 and "Chest pain" not in html and "Lovelace" not in html
    assert 'id="break-glass-form"' in html and 'id="break-glass-warning"' in html
    assert f'action="/encounters/{encounter.id}/break-glass"' in html and 'id="id_reason_helptext"' in html
    # An unknown visit gets the same page: the refusal tells nothing about existence.
    unknown = client.get(f"/encounters/{encounter.id + 1}")
    assert unknown.status_code == 404 and 'id="break-glass-form"' in unknown.content.decode()


@pytest.mark.parametrize(
    ("reason", "message"),
    [("", "Enter the reason you need this patient"), ("need it", "at least 15 characters")],
)
def test_break_glass_without_a_real_reason_is_refused_next_to_the_field(lab, reason, message):
    encounter = encounter_for(lab["patient_record"], reason="Chest pain since Monday")
    path = f"/encounters/{encounter.id}/break-glass"
    events = audited(browser_for(lab["stranger"]), path, method="post", data={"reason": reason}, status=422)
    assert events == [] and not AlertEvent.objects.filter(name="BreakGlassAccess").exists()
    html = browser_for(lab["stranger"]).post(path, {"reason": reason}).content.decode()
    assert 'id="id_reason-error"' in html and message in html and "There is a problem" in html
    assert "Chest pain" not in html


def test_break_glass_with_a_reason_shows_the_visit_audits_it_and_alerts(lab):
    encounter = encounter_for(lab["patient_record"], reason="Chest pain since Monday", note_text="Aspirin given.")
    reason = "Unconscious in ED, daughter on 555-123-4567"
    client = browser_for(lab["stranger"])
    events = audited(client, f"/encounters/{encounter.id}/break-glass", method="post", data={"reason": reason})
    event = only(events)
    assert_event(
        event, user=lab["stranger"], role="clinician", action="encounter.break_glass_read",
        resource_type="encounter", purpose="emergency treatment", resource_id=encounter.id,
    )  # fmt: skip
    assert event.detail["break_glass_reason"] == "Unconscious in ED, daughter on [REDACTED-PHONE]"
    assert event.detail["note_shown"] is True
    alert = AlertEvent.objects.get(name="BreakGlassAccess")
    assert alert.status == "firing" and alert.labels["actor_user_id"] == str(lab["stranger"].pk)
    assert alert.annotations["encounter_id"] == str(encounter.id)
    html = client.post(f"/encounters/{encounter.id}/break-glass", {"reason": reason}).content.decode()
    assert "Chest pain since Monday" in html and "Aspirin given." in html and 'id="break-glass-recorded"' in html
    assert 'id="note-form"' not in html  # read-only: no note editing by break-glass


def test_break_glass_by_a_care_team_clinician_is_an_ordinary_read(lab):
    encounter = encounter_for(lab["patient_record"])
    client = browser_for(lab["clinician"])
    path = f"/encounters/{encounter.id}/break-glass"
    events = audited(client, path, method="post", data={"reason": "Checking the chart before rounds"}, status=302)
    assert only(events).action == "encounter.read"
    assert not AlertEvent.objects.filter(name="BreakGlassAccess").exists()
