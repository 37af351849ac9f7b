"""Failure paths of the booking write on real PostgreSQL: concurrency, atomicity, transient errors,
the retry budget, lost connections, unknown patients and a stale shard map."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.db import connections
from prometheus_client import REGISTRY

from apps.core.actors import Actor
from apps.core.models import ShardMapEntry
from apps.core.resolver import resolver
from apps.encounters.models import Encounter
from apps.encounters.services import booking_request_fingerprint, encounter_book
from tests.encounters.conftest import book, booking_body
from tests.encounters.test_booking_api import shard_rows
from tests.support.databases import backend_kill

EMPTY = {"encounters": 0, "history": 0, "audit": 0, "outbox": 0}


def install_fault(alias: str, *, table: str, errcode: str, times: int | None) -> None:
    """A real PostgreSQL trigger that fails inserts into ``table`` (the first ``times`` ones, or all)."""
    limit = 1_000_000 if times is None else times
    with connections[alias].cursor() as cursor:
        cursor.execute("CREATE SEQUENCE IF NOT EXISTS enc_fault_seq")
        cursor.execute(
            f"""
            CREATE OR REPLACE FUNCTION enc_fault() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF nextval('enc_fault_seq') <= {limit} THEN
                RAISE EXCEPTION 'injected fault' USING ERRCODE = '{errcode}';
              END IF;
              RETURN NEW;
            END $$
            """
        )
        cursor.execute(f"CREATE TRIGGER enc_fault BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION enc_fault()")


def fault_count(alias: str) -> int:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT last_value FROM enc_fault_seq")
        return cursor.fetchone()[0]


def retries(alias: str, error: str = "OperationalError") -> float:
    return REGISTRY.get_sample_value("encounter_write_retries_total", {"shard_id": alias, "error": error}) or 0.0


@pytest.mark.django_db(databases="__all__")
def test_failure_after_the_encounter_insert_leaves_no_row_of_any_kind(patient, patient_persona):
    # The outbox insert is the last of the three: by then the encounter, its history row and the
    # audit event have been inserted in the same transaction.
    install_fault("shard_0", table="outbox_outboxevent", errcode="P0001", times=None)
    response = book(patient_persona[1], booking_body(patient.id))
    assert response.status_code == 503 and response["Retry-After"]
    assert response.json()["remediation"]
    assert shard_rows("shard_0") == EMPTY


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("errcode", ["40001", "40P01"], ids=["serialization_failure", "deadlock_detected"])
def test_transient_sql_error_is_retried_with_backoff(patient, patient_persona, errcode):
    install_fault("shard_0", table="encounters_encounter", errcode=errcode, times=2)
    before = retries("shard_0")
    response = book(patient_persona[1], booking_body(patient.id))
    assert response.status_code == 202, response.content
    assert retries("shard_0") - before == 2
    assert shard_rows("shard_0") == {"encounters": 1, "history": 1, "audit": 1, "outbox": 1}


@pytest.mark.django_db(databases="__all__")
def test_a_booking_rides_out_a_short_outage_retrying_at_short_capped_intervals(patient, patient_persona, caplog):
    # A promotion stalls writes for a second or two: by default the booking keeps trying (8 attempts)
    # at intervals capped at 0.25 s (+ jitter), and is answered 2xx once the shard takes writes.
    install_fault("shard_0", table="encounters_encounter", errcode="40001", times=6)
    response = book(patient_persona[1], booking_body(patient.id))
    assert response.status_code == 202, response.content
    sleeps = [
        r.msg["sleep_s"]
        for r in caplog.records
        if isinstance(r.msg, dict) and r.msg.get("event") == "encounter_write_retry"
    ]
    assert len(sleeps) == 6 and max(sleeps) <= 0.3
    assert shard_rows("shard_0") == {"encounters": 1, "history": 1, "audit": 1, "outbox": 1}


@pytest.mark.django_db(databases="__all__")
def test_after_the_retry_budget_the_api_answers_503_with_retry_after(patient, patient_persona, settings, caplog):
    settings.PIMLAB_BOOKING_RETRY_ATTEMPTS = 3
    install_fault("shard_0", table="encounters_encounter", errcode="40001", times=None)
    response = book(patient_persona[1], booking_body(patient.id))
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0 and response["Content-Type"] == "application/problem+json"
    assert fault_count("shard_0") == 3  # exactly the budget, then it gave up
    assert shard_rows("shard_0") == EMPTY
    logged = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    assert [m["attempt"] for m in logged if m.get("event") == "encounter_write_retry"] == [1, 2]
    failed = next(m for m in logged if m.get("event") == "encounter_write_failed")
    assert failed["shard_id"] == "shard_0" and failed["error_class"] == "OperationalError" and failed["trace_id"]


@pytest.mark.django_db(databases="__all__")
def test_stale_shard_map_falls_back_to_the_last_known_shard_with_a_warning(patient, patient_persona, caplog):
    token = patient_persona[1]
    assert book(token, booking_body(patient.id)).status_code == 202  # the resolver now knows bucket 3
    ShardMapEntry.objects.filter(bucket_start__lte=3, bucket_end__gte=3).delete()
    resolver.invalidate()  # as if the TTL expired and the reloaded map lacks the entry
    before = REGISTRY.get_sample_value("shard_map_fallback_total", {"reason": "entry_missing"}) or 0.0

    response = book(token, booking_body(patient.id, reason="Second visit"))

    assert response.status_code == 202, response.content
    assert Encounter.objects.using("shard_0").filter(pk=int(response.json()["id"])).exists()
    assert REGISTRY.get_sample_value("shard_map_fallback_total", {"reason": "entry_missing"}) == before + 1
    warnings = [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == "shard_map_fallback"]
    assert warnings and warnings[0]["shard_id"] == "shard_0" and warnings[0]["level"] == "warning"


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_unknown_patient_is_a_404_like_a_refused_one_and_writes_nothing(patient, clinician_persona):
    # Access policy: a clinician learns nothing from the answer; an unknown patient and a patient
    # outside the care team are answered alike (it was a 422 that told them apart).
    unknown = 3 << 12 | (1 << 40)  # a well-formed id in bucket 3 that no patient has
    response = book(clinician_persona[1], booking_body(unknown))
    assert response.status_code == 404
    assert "patient_id" in response.json()["errors"]
    refused = book(clinician_persona[1], booking_body(patient.id))
    assert refused.status_code == 404 and refused.json()["title"] == response.json()["title"]
    assert shard_rows("shard_0")["encounters"] == 0


def _blocked_backends(alias: str) -> int:
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_two_concurrent_requests_with_one_key_produce_one_encounter(patient, patient_persona):
    """Both requests are held inside their transactions at the same time, so only a unique
    constraint can stop the second insert (a check-then-insert would let both through): the
    catalog's Idempotency-Key registry, which the second request waits on."""
    token, key, body = patient_persona[1], str(uuid.uuid4()), booking_body(patient.id)
    responses: list = []

    def request() -> None:
        try:
            responses.append(book(token, body, key))
        finally:
            connections.close_all()

    holder = connections.create_connection("shard_0")
    try:
        holder.set_autocommit(False)
        with holder.cursor() as cursor:
            # Encounter inserts proceed; the audit insert that follows waits behind this lock.
            cursor.execute("LOCK TABLE audits_auditevent IN EXCLUSIVE MODE")
        threads = [threading.Thread(target=request) for _ in range(2)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while _blocked_backends("shard_0") + _blocked_backends("default") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        # One on the audit lock (the first, holding its key); one on the registry's unique index.
        assert (_blocked_backends("shard_0"), _blocked_backends("default")) == (1, 1)
    finally:
        holder.rollback()
        holder.close()
    for thread in threads:
        thread.join(30)

    assert sorted(r.status_code for r in responses) == [202, 202]
    assert responses[0].json()["id"] == responses[1].json()["id"]
    assert shard_rows("shard_0") == {"encounters": 1, "history": 1, "audit": 1, "outbox": 1}


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_lost_connection_is_retried_on_a_fresh_connection(patient, patient_persona):
    user = patient_persona[0]
    backend_kill("shard_0")
    before = sum(retries("shard_0", error) for error in ("OperationalError", "InterfaceError"))
    requested = booking_body(patient.id)
    from django.utils.dateparse import parse_datetime

    start = parse_datetime(requested["requested_start"])
    booking = encounter_book(
        actor=Actor.from_user(user),
        patient_id=patient.id,
        encounter_type="telehealth",
        reason=requested["reason"],
        requested_start=start,
        idempotency_key="lost-connection",
        request_fingerprint=booking_request_fingerprint(
            patient_id=patient.id, encounter_type="telehealth", reason=requested["reason"], requested_start=start
        ),
    )
    assert booking.created
    assert sum(retries("shard_0", error) for error in ("OperationalError", "InterfaceError")) == before + 1
    assert shard_rows("shard_0") == {"encounters": 1, "history": 1, "audit": 1, "outbox": 1}
