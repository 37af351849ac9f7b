"""The outbox rows get the one aggregate_type spelling. (Audit events keep the names they were written
with: they are immutable; see ``apps.audits.vocabulary``.)"""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connections

from apps.outbox.events import EventType
from apps.outbox.models import OutboxEvent
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db(databases="__all__")

outbox_migration = importlib.import_module("apps.outbox.migrations.0006_aggregate_type_lower_case")


def editor(alias: str):
    return SimpleNamespace(connection=connections[alias])


def test_outbox_rows_get_one_aggregate_type_spelling():
    patient = PatientFactory(bucket=5)
    row = OutboxEvent.objects.using("shard_0").create(
        aggregate_type="Patient", aggregate_id=patient.id, event_type=EventType.ENCOUNTER_FINISHED, payload={}
    )
    outbox_migration.forwards(apps, editor("shard_0"))
    assert OutboxEvent.objects.using("shard_0").get(pk=row.pk).aggregate_type == "patient"
