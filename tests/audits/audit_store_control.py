"""Audit-store fixtures for tests: recording events, simulating an outage, bypassing the append-only triggers."""

from __future__ import annotations

from contextlib import contextmanager

from django.db import connections, transaction

from apps.audits.services import audit_event_record
from apps.core.actors import Actor
from tests.support.network import unused_port


def record_events(patient, count: int, *, action: str = "test.action") -> list:
    alias = patient._state.db
    actor = Actor(user_id=7, role="clinician")
    events = []
    for index in range(count):
        with transaction.atomic(using=alias):
            events.append(
                audit_event_record(
                    using=alias,
                    patient_id=patient.id,
                    action=action,
                    resource_type="encounter_note",
                    resource_id=str(index),
                    actor=actor,
                    detail={"index": index},
                )
            )
    return events


@contextmanager
def audit_store_down():
    """Point the `audit` alias at a port nobody listens on, then restore it."""
    connection = connections["audit"]
    connection.close()
    saved = {key: connection.settings_dict.get(key) for key in ("HOST", "PORT")}
    connection.settings_dict.update({"HOST": "127.0.0.1", "PORT": str(unused_port())})
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


@contextmanager
def audit_triggers_disabled():
    """What someone with owner rights on the audit database could do: switch the append-only triggers off."""
    with connections["audit"].cursor() as cursor:
        cursor.execute("ALTER TABLE audits_auditrecord DISABLE TRIGGER audits_auditrecord_append_only")
    try:
        yield
    finally:
        with connections["audit"].cursor() as cursor:
            cursor.execute("ALTER TABLE audits_auditrecord ENABLE TRIGGER audits_auditrecord_append_only")
