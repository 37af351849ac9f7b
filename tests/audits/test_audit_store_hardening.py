"""The audit trail survives a compromised application: TRUNCATE refused, an insert-only writer role,
chain heads that only advance, shard-side events that cannot be rewritten, a key ring with key ids,
and a scheduled verification that raises a critical alert."""

from __future__ import annotations

from contextlib import contextmanager
from types import SimpleNamespace

import psycopg
import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, transaction
from django.test import override_settings

from apps.audits.chain import chain_key_ring
from apps.audits.models import AuditChainHead, AuditEvent, AuditRecord
from apps.audits.schedules import BEAT_SCHEDULE
from apps.audits.shipping import audit_events_ship
from apps.audits.tasks import audit_verify_all
from apps.audits.verification import audit_chain_verify
from apps.slo.models import AlertEvent
from tests.audits.audit_store_control import audit_triggers_disabled, record_events
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)
RING_K1 = "k1:" + "1" * 32
RING_K2_K1 = "k2:" + "2" * 32 + "," + RING_K1


def _store_dsn(user: str) -> str:
    config = connections["audit"].settings_dict
    return f"host={config['HOST'] or '127.0.0.1'} port={config['PORT'] or 5432} dbname={config['NAME']} user={user}"


@contextmanager
def writer_connection():
    """A raw connection as the insert-only role the application logs in with."""
    with psycopg.connect(_store_dsn(settings.PIMLAB_AUDIT_WRITER_ROLE), autocommit=True) as conn:
        yield conn


@contextmanager
def audit_alias_as_writer():
    """The application's audit alias logs in as the writer role (as in production)."""
    connection = connections["audit"]
    connection.close()
    saved = connection.settings_dict["USER"]
    connection.settings_dict["USER"] = settings.PIMLAB_AUDIT_WRITER_ROLE
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["USER"] = saved


@pytest.fixture
def shipped():
    patient = PatientFactory(bucket=5)  # shard_0
    record_events(patient, 4)
    assert audit_events_ship(shard_alias="shard_0").shipped == 4
    return patient


def _owner_sql(alias: str, sql: str) -> None:
    """Run ``sql`` as the database owner without the test profile's truncate permission."""
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute("SET LOCAL pimlab.allow_truncate = off")
        cursor.execute(sql)


@pytest.mark.parametrize("table", ["audits_auditrecord", "audits_auditchainhead"])
def test_truncate_of_the_store_is_refused_even_for_the_owner(shipped, table):
    with pytest.raises(DatabaseError, match="TRUNCATE"):
        _owner_sql("audit", f"TRUNCATE {table}")
    assert AuditRecord.objects.filter(shard_alias="shard_0").count() == 4


def test_truncate_of_shard_events_is_refused(shipped):
    with pytest.raises(DatabaseError, match="TRUNCATE"):
        _owner_sql("shard_0", "TRUNCATE audits_auditevent")


def test_the_application_ships_and_verifies_as_the_insert_only_role():
    patient = PatientFactory(bucket=5)
    record_events(patient, 3)
    with audit_alias_as_writer():
        assert connections["audit"].cursor().connection.info.user == settings.PIMLAB_AUDIT_WRITER_ROLE
        assert audit_events_ship(shard_alias="shard_0").shipped == 3
        record_events(patient, 2)
        assert audit_events_ship(shard_alias="shard_0").shipped == 2
        assert audit_chain_verify(shard_alias="shard_0").intact


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audits_auditrecord SET action = 'forged'",
        "DELETE FROM audits_auditrecord",
        "TRUNCATE audits_auditrecord",
        "ALTER TABLE audits_auditrecord DISABLE TRIGGER audits_auditrecord_append_only",
        "DROP TRIGGER audits_auditrecord_append_only ON audits_auditrecord",
        "DELETE FROM audits_auditchainhead",
        "DROP TABLE audits_auditrecord",
    ],
)
def test_the_writer_role_cannot_change_remove_or_unprotect_links(shipped, statement):
    with writer_connection() as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)
    assert audit_chain_verify(shard_alias="shard_0").intact


def test_chain_heads_only_advance(shipped):
    with pytest.raises(DatabaseError, match="may only advance"), transaction.atomic(using="audit"):
        AuditChainHead.objects.filter(shard_alias="shard_0").update(last_sequence=1)
    with (
        pytest.raises(DatabaseError, match="cannot be deleted"),
        transaction.atomic(using="audit"),
        connections["audit"].cursor() as cursor,
    ):
        cursor.execute("DELETE FROM audits_auditchainhead WHERE shard_alias = 'shard_0'")
    assert AuditChainHead.objects.get(shard_alias="shard_0").last_sequence == 4


def test_unshipped_shard_events_cannot_be_deleted_or_rewritten():
    patient = PatientFactory(bucket=5)
    event = record_events(patient, 1)[0]
    with pytest.raises(DatabaseError, match="not shipped yet"), transaction.atomic(using="shard_0"):
        AuditEvent.objects.using("shard_0").filter(pk=event.pk).delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(using="shard_0"):
        AuditEvent.objects.using("shard_0").filter(pk=event.pk).update(action="innocent.action")
    # The shipper's own update (shipping fields only) still goes through.
    assert audit_events_ship(shard_alias="shard_0").shipped == 1


def test_rotation_keeps_old_links_verifiable_and_key_ids_are_stored():
    patient = PatientFactory(bucket=5)
    with override_settings(PIMLAB_AUDIT_CHAIN_KEYS=RING_K1):
        record_events(patient, 2)
        audit_events_ship(shard_alias="shard_0")
    with override_settings(PIMLAB_AUDIT_CHAIN_KEYS=RING_K2_K1):
        record_events(patient, 2)
        audit_events_ship(shard_alias="shard_0")
        assert audit_chain_verify(shard_alias="shard_0").intact
    key_ids = list(
        AuditRecord.objects.filter(shard_alias="shard_0").order_by("sequence").values_list("key_id", flat=True)
    )
    assert key_ids == ["k1", "k1", "k2", "k2"]
    # Dropping the retired key from the ring makes its links unverifiable, and the verdict says why.
    with override_settings(PIMLAB_AUDIT_CHAIN_KEYS="k2:" + "2" * 32):
        verdict = audit_chain_verify(shard_alias="shard_0")
    assert verdict.broken.sequence == 1 and "'k1'" in verdict.broken.reason


def test_the_chain_key_does_not_depend_on_secret_key(shipped):
    with override_settings(SECRET_KEY="rotated-" + "x" * 40):
        assert audit_chain_verify(shard_alias="shard_0").intact


def test_production_refuses_to_sign_without_a_configured_ring():
    with (
        override_settings(PIMLAB_AUDIT_CHAIN_KEYS="", PIMLAB_AUDIT_CHAIN_KEYS_REQUIRED=True),
        pytest.raises(ImproperlyConfigured, match="PIMLAB_AUDIT_CHAIN_KEYS"),
    ):
        chain_key_ring()
    with override_settings(PIMLAB_AUDIT_CHAIN_KEYS="k1:short"), pytest.raises(ImproperlyConfigured, match="16"):
        chain_key_ring()


def test_verification_is_scheduled_and_a_broken_link_raises_a_critical_alert(shipped):
    assert BEAT_SCHEDULE["audit-verify-all-chains"]["task"] == "audits.verify_all"
    assert audit_verify_all() == 0
    assert not AlertEvent.objects.filter(name="AuditChainBroken").exists()
    with audit_triggers_disabled(), transaction.atomic(using="audit"), connections["audit"].cursor() as cursor:
        cursor.execute("UPDATE audits_auditrecord SET action = 'forged' WHERE shard_alias = 'shard_0' AND sequence = 3")
    assert audit_verify_all() == 1
    alert = AlertEvent.objects.get(name="AuditChainBroken")
    assert alert.severity == "critical" and alert.status == "firing"
    assert alert.labels == {"shard_id": "shard_0", "position": "3"}
    assert alert.annotations["runbook"].endswith("11_audit-log-degradation.md")


def test_the_migration_refuses_a_backend_it_cannot_harden():
    from importlib import import_module

    migration = import_module("apps.audits.migrations.0005_audit_store_hardening")
    editor = SimpleNamespace(connection=SimpleNamespace(vendor="microsoft", settings_dict={}))
    with pytest.raises(RuntimeError, match="PIMLAB_AUDIT_ALLOW_UNENFORCED"):
        migration.store_harden(None, editor)
    with override_settings(PIMLAB_AUDIT_ALLOW_UNENFORCED=True):
        migration.store_harden(None, editor)  # accepted knowingly: nothing to install there
