"""The audit store: shipped in order, hash-chained, append-only, and tamper-evident."""

import itertools

import pytest
from django.contrib.admin.sites import site
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connections, transaction
from django.test import RequestFactory

from apps.audits.models import AppendOnlyViolation, AuditEvent, AuditRecord
from apps.audits.shipping import audit_events_ship
from apps.audits.verification import audit_chain_verify
from tests.audits.audit_store_control import audit_triggers_disabled, record_events
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def shipped_chain():
    patient = PatientFactory(bucket=5)  # shard_0
    events = record_events(patient, 5)
    result = audit_events_ship(shard_alias="shard_0", batch_size=2)
    assert result.store_available and result.shipped == 5
    return patient, events


def _verify_output(*args):
    from io import StringIO

    out = StringIO()
    try:
        call_command("audit_verify", *args, stdout=out)
    except CommandError as error:
        return out.getvalue(), error
    return out.getvalue(), None


def test_shipper_chains_events_in_order_and_marks_them_shipped(shipped_chain):
    _, events = shipped_chain
    records = list(AuditRecord.objects.filter(shard_alias="shard_0").order_by("sequence"))
    assert [r.sequence for r in records] == [1, 2, 3, 4, 5]
    assert [r.source_event_id for r in records] == [e.id for e in events]
    assert records[0].prev_hash == "0" * 64
    assert all(later.prev_hash == earlier.chain_hash for earlier, later in itertools.pairwise(records))
    shard_rows = AuditEvent.objects.using("shard_0").filter(id__in=[e.id for e in events]).order_by("chain_sequence")
    assert [row.chain_sequence for row in shard_rows] == [1, 2, 3, 4, 5]
    assert all(row.shipped_at is not None for row in shard_rows)
    # Shipping again finds nothing new and never chains an event twice.
    assert audit_events_ship(shard_alias="shard_0").shipped == 0
    assert AuditRecord.objects.filter(shard_alias="shard_0").count() == 5


def test_verify_passes_on_an_intact_chain(shipped_chain):
    assert audit_chain_verify(shard_alias="shard_0").intact
    output, error = _verify_output()
    assert error is None
    assert "shard_0: intact (5 links verified)" in output


def test_orm_and_admin_cannot_change_or_delete_audit_records(shipped_chain):
    record = AuditRecord.objects.filter(shard_alias="shard_0").first()
    record.action = "rewritten"
    with pytest.raises(AppendOnlyViolation):
        record.save()
    with pytest.raises(AppendOnlyViolation):
        record.delete()
    with pytest.raises(AppendOnlyViolation):
        AuditRecord.objects.filter(shard_alias="shard_0").update(action="rewritten")
    with pytest.raises(AppendOnlyViolation):
        AuditRecord.objects.filter(shard_alias="shard_0").delete()
    request = RequestFactory().get("/admin/")
    request.user = type("Superuser", (), {"is_active": True, "is_staff": True, "is_superuser": True})()
    for model in (AuditRecord, AuditEvent):
        model_admin = site._registry[model]
        assert not model_admin.has_change_permission(request, None)
        assert not model_admin.has_delete_permission(request, None)
        assert not model_admin.has_add_permission(request)


def test_database_refuses_raw_update_and_delete(shipped_chain):
    for statement in (
        "UPDATE audits_auditrecord SET action = 'rewritten'",
        "DELETE FROM audits_auditrecord",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(using="audit"),
            connections["audit"].cursor() as cursor,
        ):
            cursor.execute(statement)
    assert AuditRecord.objects.filter(shard_alias="shard_0", action="test.action").count() == 5


def _tamper(sql: str, params=()):
    with audit_triggers_disabled(), connections["audit"].cursor() as cursor:
        cursor.execute(sql, params)


def test_edited_record_breaks_the_chain_at_that_link(shipped_chain):
    _tamper("UPDATE audits_auditrecord SET outcome = 'success', action = 'innocent' WHERE sequence = 3")
    verdict = audit_chain_verify(shard_alias="shard_0")
    assert not verdict.intact and verdict.broken.sequence == 3 and verdict.links_checked == 2
    assert "content does not match" in verdict.broken.reason
    output, error = _verify_output()
    assert error is not None and "BROKEN at link #3" in output


def test_deleted_record_breaks_the_chain_at_the_gap(shipped_chain):
    _tamper("DELETE FROM audits_auditrecord WHERE shard_alias = 'shard_0' AND sequence = 2")
    verdict = audit_chain_verify(shard_alias="shard_0")
    assert verdict.broken.sequence == 2 and "missing" in verdict.broken.reason
    output, error = _verify_output()
    assert error is not None and "BROKEN at link #2" in output


def test_inserted_record_breaks_the_chain_at_the_insertion(shipped_chain):
    # Make room after link 3 (as an intruder would) and insert a forged link that points at link 3.
    _tamper("UPDATE audits_auditrecord SET sequence = sequence + 1000 WHERE shard_alias = 'shard_0' AND sequence > 3")
    _tamper("UPDATE audits_auditrecord SET sequence = sequence - 999 WHERE shard_alias = 'shard_0' AND sequence > 1000")
    link3 = AuditRecord.objects.get(shard_alias="shard_0", sequence=3)
    _tamper(
        """INSERT INTO audits_auditrecord (shard_alias, sequence, source_event_id, patient_id, occurred_at, action,
               outcome, resource_type, resource_id, actor_user_id, actor_role, request_id, trace_id, detail,
               prev_hash, chain_hash, stored_at)
           SELECT shard_alias, 4, 42, patient_id, occurred_at, 'encounter.note.read', 'success',
               resource_type, resource_id, actor_user_id, actor_role, '', '', '{}', %s, md5('forged') || md5('x'),
               stored_at
           FROM audits_auditrecord WHERE id = %s""",
        [link3.chain_hash, link3.id],
    )
    verdict = audit_chain_verify(shard_alias="shard_0")
    assert verdict.broken.sequence == 4 and verdict.links_checked == 3
    output, error = _verify_output()
    assert error is not None and "BROKEN at link #4" in output


def test_truncated_tail_is_detected(shipped_chain):
    _tamper("DELETE FROM audits_auditrecord WHERE shard_alias = 'shard_0' AND sequence = 5")
    verdict = audit_chain_verify(shard_alias="shard_0")
    assert not verdict.intact and verdict.broken.sequence == 5


def test_new_events_after_shipping_extend_the_same_chain(shipped_chain):
    patient, _ = shipped_chain
    record_events(patient, 3, action="later.action")
    assert audit_events_ship(shard_alias="shard_0").shipped == 3
    assert list(
        AuditRecord.objects.filter(shard_alias="shard_0").order_by("sequence").values_list("sequence", "action")
    )[-3:] == [(6, "later.action"), (7, "later.action"), (8, "later.action")]
    assert audit_chain_verify(shard_alias="shard_0").intact


def test_chains_are_per_shard():
    on_0, on_1 = PatientFactory(bucket=1), PatientFactory(bucket=1000)
    record_events(on_0, 2)
    record_events(on_1, 3)
    for alias in ("shard_0", "shard_1"):
        audit_events_ship(shard_alias=alias)
    assert AuditRecord.objects.filter(shard_alias="shard_0").count() == 2
    assert AuditRecord.objects.filter(shard_alias="shard_1").count() == 3
    assert all(audit_chain_verify(shard_alias=alias).intact for alias in ("shard_0", "shard_1"))


def test_actions_chained_before_the_vocabulary_read_as_their_current_names(admin_client):
    from apps.audits.vocabulary import AuditAction, audit_action_canonical

    assert audit_action_canonical("claim.submit") == AuditAction.CLAIM_SUBMITTED == "claim.submitted"
    assert audit_action_canonical("encounter.note.sign") == "encounter.note.signed"
    assert all(audit_action_canonical(action) == action for action in AuditAction)  # current names stay

    patient = PatientFactory(bucket=5)  # shard_0
    record_events(patient, 1, action="claim.submit")  # written, and chained, under the old name
    assert audit_events_ship(shard_alias="shard_0").shipped == 1
    page = admin_client.get("/admin/audits/auditrecord/").content.decode()
    assert "claim.submitted (stored as claim.submit)" in page
    assert audit_chain_verify(shard_alias="shard_0").intact  # the stored text is untouched
