"""Every event type has a payload schema; recording an event that breaks it is refused before
anything is written (no audit event, no outbox row), on a real shard."""

from __future__ import annotations

import pytest
from django.db import transaction

from apps.audits.models import AuditEvent
from apps.audits.vocabulary import AuditAction, ResourceType
from apps.core.actors import Actor
from apps.outbox.changes import ChangeOutsideTransaction, change_record
from apps.outbox.events import PAYLOAD_SCHEMAS, EventSchemaViolation, EventType
from apps.outbox.models import OutboxEvent
from apps.outbox.services import outbox_event_record
from tests.outbox.recording import valid_payload

pytestmark = pytest.mark.django_db(databases="__all__")

ACTOR = Actor(user_id=7, role="clinician")


def finished(owner_id: int, /, **changes) -> dict:
    payload = valid_payload(EventType.ENCOUNTER_FINISHED, patient_id=owner_id)
    payload.update(changes)
    return {key: value for key, value in payload.items() if value is not None}


def finish_recorded(patient, payload: dict):
    return change_record(
        using=patient._state.db,
        actor=ACTOR,
        patient_id=patient.id,
        action=AuditAction.ENCOUNTER_FINISHED,
        resource_type=ResourceType.ENCOUNTER,
        resource_id=1234,
        event_type=EventType.ENCOUNTER_FINISHED,
        payload=payload,
    )


def rows(alias: str) -> tuple[int, int]:
    return AuditEvent.objects.using(alias).count(), OutboxEvent.objects.using(alias).count()


def test_every_event_type_has_a_schema():
    assert set(PAYLOAD_SCHEMAS) == set(EventType)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ({"encounter_id": 1234}, "encounter_id"),  # an id as a JSON number: clients lose 64-bit precision
        ({"status": "booked"}, "status"),
        ({"patient_id": None}, "patient_id"),  # missing
        ({"note_text": "chest pain"}, "note_text"),  # a field nobody reviewed (free text!)
    ],
)
def test_a_payload_breaking_its_schema_is_refused_and_nothing_is_written(patient, breakage, message):
    alias = patient._state.db
    before = rows(alias)
    with pytest.raises(EventSchemaViolation, match=message), transaction.atomic(using=alias):
        finish_recorded(patient, finished(patient.id, **breakage))
    assert rows(alias) == before


def test_an_unknown_event_type_is_refused(patient):
    alias = patient._state.db
    unknown = "unknown event type 'EncounterCancelled'"
    with pytest.raises(EventSchemaViolation, match=unknown), transaction.atomic(using=alias):
        outbox_event_record(
            using=alias, event_type="EncounterCancelled", aggregate_id=patient.id, payload=finished(patient.id)
        )
    assert OutboxEvent.objects.using(alias).count() == 0


def test_a_valid_change_records_its_audit_event_and_its_event_together(patient):
    alias = patient._state.db
    with transaction.atomic(using=alias):
        change = finish_recorded(patient, finished(patient.id))
    audit = AuditEvent.objects.using(alias).get(pk=change.audit_event.pk)
    event = OutboxEvent.objects.using(alias).get(pk=change.outbox_event.pk)
    assert (audit.action, audit.resource_type, audit.actor_user_id) == ("encounter.finished", "encounter", 7)
    assert (event.event_type, event.aggregate_type, event.aggregate_id) == ("EncounterFinished", "patient", patient.id)


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_a_change_outside_a_transaction_on_its_shard_is_refused(patient):
    with pytest.raises(ChangeOutsideTransaction):
        change_record(
            using=patient._state.db,
            actor=ACTOR,
            patient_id=patient.id,
            action=AuditAction.ENCOUNTER_FINISHED,
            resource_type=ResourceType.ENCOUNTER,
        )
