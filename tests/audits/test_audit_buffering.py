"""Audit store outage (seed NFR-20): requests keep working, events wait on their shard, buffer
metrics rise, and the shipper drains them in order afterwards with the chain intact."""

import threading

import pytest
from django.db import connections
from prometheus_client import REGISTRY

from apps.audits.models import AuditEvent, AuditRecord
from apps.audits.shipping import audit_events_ship
from apps.audits.tasks import audit_ship_shard
from apps.audits.verification import audit_chain_verify
from tests.audits.audit_store_control import audit_store_down, record_events
from tests.encounters.notes.note_scenario import note_world, patch_note
from tests.factories import PatientFactory
from tests.support.api import api_client

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def _gauge(name, alias):
    return REGISTRY.get_sample_value(name, {"shard_id": alias})


def test_outage_buffers_on_the_shard_and_drains_in_order_afterwards():
    world = note_world()
    alias = world.encounter._state.db
    audit_events_ship(shard_alias=alias)  # start from an empty buffer
    baseline = AuditRecord.objects.filter(shard_alias=alias).count()
    failures_before = (
        REGISTRY.get_sample_value("audit_ship_failures_total", {"shard_id": alias, "reason": "store_unavailable"}) or 0
    )
    clinician = api_client(world.tokens["care_team_clinician"])

    with audit_store_down():
        # The request path never touches the audit store: documentation goes on.
        for version in range(4):
            response = patch_note(clinician, world.encounter.id, {"text": f"Entry {version}."}, version=version)
            assert response.status_code == 200, response.content
        record_events(world.patient, 2, action="batch.action")
        result = audit_events_ship(shard_alias=alias)
        assert not result.store_available and result.shipped == 0
        assert result.buffer.depth == 6 and result.buffer.oldest_age_seconds > 0
        assert _gauge("audit_buffer_depth", alias) == 6
        assert _gauge("audit_buffer_oldest_age_seconds", alias) > 0
        assert _gauge("audit_store_available", alias) == 0
        assert (
            REGISTRY.get_sample_value("audit_ship_failures_total", {"shard_id": alias, "reason": "store_unavailable"})
            == failures_before + 1
        )
        # A second attempt during the outage is just as harmless.
        assert not audit_events_ship(shard_alias=alias).store_available

    pending = list(
        AuditEvent.objects.using(alias)
        .filter(shipped_at__isnull=True)
        .order_by("occurred_at", "id")
        .values_list("id", flat=True)
    )
    assert len(pending) == 6
    result = audit_events_ship(shard_alias=alias, batch_size=4)
    assert result.store_available and result.shipped == 6 and result.buffer.depth == 0
    assert _gauge("audit_buffer_depth", alias) == 0 and _gauge("audit_store_available", alias) == 1
    drained = list(
        AuditRecord.objects.filter(shard_alias=alias, sequence__gt=baseline)
        .order_by("sequence")
        .values_list("source_event_id", flat=True)
    )
    assert drained == pending  # nothing lost, nothing doubled, original order
    assert audit_chain_verify(shard_alias=alias).intact


def test_concurrent_shippers_keep_a_single_unforked_chain():
    patient = PatientFactory(bucket=20)
    events = record_events(patient, 40)
    errors = []

    def ship():
        try:
            audit_events_ship(shard_alias="shard_0", batch_size=5)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ship) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    records = list(AuditRecord.objects.filter(shard_alias="shard_0").order_by("sequence"))
    assert [r.sequence for r in records] == list(range(1, 41))
    assert sorted(r.source_event_id for r in records) == sorted(e.id for e in events)
    assert audit_chain_verify(shard_alias="shard_0").intact


def test_ship_task_runs_the_shipper():
    patient = PatientFactory(bucket=30)
    record_events(patient, 3)
    assert audit_ship_shard.apply(args=["shard_0"]).get() == 3
    assert AuditRecord.objects.filter(shard_alias="shard_0").count() == 3
