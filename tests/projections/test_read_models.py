"""The read models are idempotent by event id and converge to the same state in any event order."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.projections.events import MalformedEvent, parse_envelope
from apps.projections.models import ClaimFact, FinancialDailyAggregate
from apps.projections.selectors import read_models_snapshot
from apps.projections.services import read_models_apply
from tests.projections.conftest import synthetic_history
from tests.support.envelopes import claim_paid, claim_submitted, encounter_created

pytestmark = pytest.mark.django_db(databases="__all__")


def apply(envelopes: list[dict]):
    return read_models_apply([parse_envelope(envelope) for envelope in envelopes])


def reset():
    from apps.projections.models import EncounterFact, ProcessedEvent, ProjectionCheckpoint

    for model in (FinancialDailyAggregate, ClaimFact, EncounterFact, ProcessedEvent, ProjectionCheckpoint):
        model.objects.all().delete()


def test_one_claim_with_lag_and_payment():
    start = timezone.now().replace(microsecond=0) - timedelta(days=3)
    submitted = start + timedelta(hours=26)
    apply(
        [
            encounter_created(encounter_id=11, patient_id=3, requested_start=start),
            claim_submitted(
                claim_id=21, encounter_id=11, payer_code="MEDICARE", total_amount="250.00", submitted_at=submitted
            ),
        ]
    )
    row = FinancialDailyAggregate.objects.get()
    assert (row.day, row.payer_code, row.status, row.claim_count, row.total_amount) == (
        submitted.date(),
        "MEDICARE",
        "submitted",
        1,
        Decimal("250.00"),
    )
    assert (row.lag_seconds_sum, row.lag_count) == (26 * 3600, 1)
    apply([claim_paid(claim_id=21, paid_amount="240.00", paid_at=submitted + timedelta(days=2))])
    row = FinancialDailyAggregate.objects.get()
    assert (row.status, row.claim_count, row.paid_amount) == ("paid", 1, Decimal("240.00"))


def test_same_event_twice_applies_once():
    envelope = claim_submitted(
        claim_id=22, encounter_id=12, payer_code="NORTHSTAR", total_amount="99.99", submitted_at=timezone.now()
    )
    first = apply([envelope, envelope])
    second = apply([envelope])
    assert len(first.applied) == 1 and first.duplicates == 1
    assert len(second.applied) == 0 and second.duplicates == 1
    assert FinancialDailyAggregate.objects.get().claim_count == 1
    assert FinancialDailyAggregate.objects.get().total_amount == Decimal("99.99")


def test_payment_before_submission_and_claim_before_encounter():
    start = timezone.now().replace(microsecond=0) - timedelta(days=2)
    submitted = start + timedelta(hours=5)
    apply([claim_paid(claim_id=23, paid_amount="80.00", paid_at=submitted + timedelta(hours=3))])
    assert not FinancialDailyAggregate.objects.exists()  # nothing to count before the claim is known
    apply(
        [
            claim_submitted(
                claim_id=23, encounter_id=13, payer_code="SELF-PAY", total_amount="80.00", submitted_at=submitted
            )
        ]
    )
    row = FinancialDailyAggregate.objects.get()
    assert (row.status, row.claim_count, row.lag_count) == ("paid", 1, 0)
    apply([encounter_created(encounter_id=13, patient_id=4, requested_start=start)])
    row = FinancialDailyAggregate.objects.get()
    assert (row.lag_seconds_sum, row.lag_count) == (5 * 3600, 1)
    assert ClaimFact.objects.get().submission_lag_seconds == 5 * 3600


def test_any_order_and_any_batching_gives_the_same_read_models():
    history = synthetic_history(claims=60)
    apply(history)
    expected = read_models_snapshot()
    assert expected["aggregates"] and expected["processed_events"] == len(history)
    rng = random.Random(42)
    for _ in range(3):
        reset()
        shuffled = history + rng.sample(history, 25)  # with redeliveries
        rng.shuffle(shuffled)
        for offset in range(0, len(shuffled), rng.randrange(1, 40)):
            apply(shuffled[offset : offset + 17])
        apply(shuffled)  # everything once more: all duplicates
        assert read_models_snapshot() == expected


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e.update(event_type="Surprise"),
        lambda e: e.update(event_id=""),
        lambda e: e["payload"].pop("claim_id"),
        lambda e: e["payload"].update(total_amount="lots"),
        lambda e: e.update(occurred_at="yesterday"),
        lambda e: e["payload"].update(submitted_at="2026-01-01T10:00:00"),  # no time zone
    ],
)
def test_malformed_envelopes_are_rejected_before_any_write(mutate):
    envelope = claim_submitted(
        claim_id=24, encounter_id=14, payer_code="ACME-HEALTH", total_amount="1.00", submitted_at=timezone.now()
    )
    mutate(envelope)
    with pytest.raises(MalformedEvent):
        parse_envelope(envelope)


def test_incremental_batches_write_the_rows_a_rebuild_writes_and_fill_the_applied_time():
    """The batch inserts (COPY on PostgreSQL) and aggregate updates fill every column as a replay does."""
    from apps.projections.models import ProcessedEvent, ProjectionCheckpoint
    from apps.projections.services import read_models_replay_snapshot

    history = synthetic_history(claims=80, seed=3, paid_share=0.6)
    rng = random.Random(5)
    shuffled = history[:]
    rng.shuffle(shuffled)  # payments before submissions, claims before encounters: rows replaced
    before = timezone.now()
    for offset in range(0, len(shuffled), 23):
        apply(shuffled[offset : offset + 23])
    incremental = read_models_snapshot()
    assert incremental == read_models_replay_snapshot(history=[("bus", history)])
    applied_times = set(ProcessedEvent.objects.values_list("applied_at", flat=True))
    assert len(applied_times) >= 4 and min(applied_times) >= before
    assert max(applied_times) <= ProjectionCheckpoint.objects.get(name="financial").last_applied_at + timedelta(
        seconds=5
    )
    assert set(ClaimFact.objects.values_list("status", flat=True)) == {"submitted", "paid"}
