"""The vocabulary data migrations: waiting shard rows get the new names, shipped rows keep the text
their chain link was hashed over, outbox rows get the one aggregate_type spelling."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connections
from django.utils import timezone

from apps.audits.models import AuditEvent
from apps.outbox.events import EventType
from apps.outbox.models import OutboxEvent
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db(databases="__all__")

audit_migration = importlib.import_module("apps.audits.migrations.0004_audit_vocabulary_on_shards")
outbox_migration = importlib.import_module("apps.outbox.migrations.0006_aggregate_type_lower_case")


def editor(alias: str):
    return SimpleNamespace(connection=connections[alias])


def test_waiting_audit_events_are_renamed_and_shipped_ones_are_left_as_chained():
    patient = PatientFactory(bucket=5)  # shard_0
    common = {"patient_id": patient.id, "actor_role": "billing_admin"}
    waiting = AuditEvent.objects.using("shard_0").create(action="claim.submit", resource_type="claim", **common)
    shipped = AuditEvent.objects.using("shard_0").create(
        action="encounter.finish", resource_type="Encounter", shipped_at=timezone.now(), chain_sequence=1, **common
    )
    finished = AuditEvent.objects.using("shard_0").create(
        action="encounter.finish", resource_type="Encounter", **common
    )

    audit_migration.forwards(apps, editor("shard_0"))

    rows = dict(AuditEvent.objects.using("shard_0").values_list("id", "action"))
    assert rows[waiting.id] == "claim.submitted" and rows[finished.id] == "encounter.finished"
    assert rows[shipped.id] == "encounter.finish"
    assert AuditEvent.objects.using("shard_0").get(pk=finished.id).resource_type == "encounter"

    audit_migration.backwards(apps, editor("shard_0"))
    assert AuditEvent.objects.using("shard_0").get(pk=waiting.id).action == "claim.submit"


def test_outbox_rows_get_one_aggregate_type_spelling():
    patient = PatientFactory(bucket=5)
    row = OutboxEvent.objects.using("shard_0").create(
        aggregate_type="Patient", aggregate_id=patient.id, event_type=EventType.ENCOUNTER_FINISHED, payload={}
    )
    outbox_migration.forwards(apps, editor("shard_0"))
    assert OutboxEvent.objects.using("shard_0").get(pk=row.pk).aggregate_type == "patient"
