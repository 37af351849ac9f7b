"""projections_rebuild replays the shards' outbox history (not the bus) into new read models built
beside the live ones and swapped in: after a Redis restart it yields exactly the incremental read
models, and a failed or empty replay leaves the live read models as they were."""

from __future__ import annotations

import threading
from io import StringIO

import pytest
import redis
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import DataError, connections
from django.test import override_settings
from django.utils import timezone
from structlog.testing import capture_logs

from apps.outbox.eventbus import get_event_bus, reset_event_bus
from apps.outbox.history import outbox_history
from apps.outbox.models import OutboxEvent, OutboxStatus
from apps.outbox.relay import outbox_relay_drain
from apps.projections.consumer import ProjectionConsumer
from apps.projections.events import EVENT_TYPES, STREAMS
from apps.projections.models import EncounterFact, FinancialDailyAggregate, ProcessedEvent, ProjectionCheckpoint
from apps.projections.selectors import financial_kpis, read_models_snapshot
from apps.projections.services import read_models_rebuild
from tests.projections.conftest import synthetic_history
from tests.support.bus import redis_flush
from tests.support.envelopes import claim_submitted, encounter_created, outbox_record_envelopes
from tests.support.servers import redis_restart, redis_server

pytestmark = pytest.mark.django_db(databases="__all__")


def relay_everything() -> int:
    return sum(outbox_relay_drain(shard_alias=alias) for alias in settings.SHARD_ALIASES)


def projected_incrementally(history: list[dict]) -> tuple[list[OutboxEvent], dict]:
    """Record the history in the outbox, relay it to the bus, let the projection worker apply it."""
    rows = outbox_record_envelopes(history)
    assert relay_everything() == len(history)
    ProjectionConsumer(bus=get_event_bus(), consumer="w", batch_size=37).drain()
    return rows, read_models_snapshot()


def shadow_schema_exists() -> bool:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'pimlab_projection_rebuild'")
        return cursor.fetchone() is not None


def test_rebuild_after_a_redis_restart_equals_the_incremental_read_models(tmp_path):
    history = synthetic_history(claims=120, seed=3)
    malformed = dict(history[5], payload={})  # dead-lettered by the worker, skipped by the rebuild
    with redis_server(tmp_path) as server, override_settings(PIMLAB_EVENTBUS_URL=server.url):
        reset_event_bus()
        rows, incremental = projected_incrementally([*history, malformed])
        assert incremental["processed_events"] == len(history)
        assert len({row._state.db for row in rows}) == len(settings.SHARD_ALIASES)  # every shard has history
        kpis = financial_kpis(days=30)
        assert kpis["totals"]["claims"] == 120

        redis_restart(server, tmp_path)  # a crash without persistence: every stream is gone
        reset_event_bus()
        client = redis.Redis.from_url(server.url)
        assert sum(client.xlen(stream) for stream in STREAMS) == 0

        out = StringIO()
        call_command("projections_rebuild", "--batch-size", "64", stdout=out)
        assert f"rebuilt from {len(history) + 1} events ({len(history)} applied, 1 malformed skipped" in out.getvalue()
        assert f"replaced read models that held {len(history)} events" in out.getvalue()
        assert read_models_snapshot() == incremental
        assert financial_kpis(days=30) == kpis
        assert ProjectionCheckpoint.objects.get(name="financial").last_rebuilt_at is not None
        assert not shadow_schema_exists()

        # The incremental path keeps writing to the read models now in place.
        outbox_record_envelopes([encounter_created(encounter_id=77_001, patient_id=9, requested_start=timezone.now())])
        relay_everything()
        assert ProjectionConsumer(bus=get_event_bus(), consumer="w2").drain() == 1
        assert EncounterFact.objects.filter(encounter_id=77_001).exists()
        assert read_models_snapshot()["processed_events"] == len(history) + 1
    reset_event_bus()


def test_a_replay_failing_midway_leaves_the_live_read_models_intact():
    history = synthetic_history(claims=60, seed=11)
    _rows, incremental = projected_incrementally(history)
    kpis = financial_kpis(days=30)
    checkpoint = ProjectionCheckpoint.objects.get(name="financial")
    # A row the relay never got to, whose amount overflows the read model's column: the replay
    # applies the earlier batches, then the database refuses this one.
    poison = claim_submitted(
        claim_id=990_001,
        encounter_id=10_001,
        payer_code="ACME-HEALTH",
        total_amount="1" + "0" * 20,
        submitted_at=timezone.now(),
        patient_id=500,
    )
    [poison_row] = outbox_record_envelopes([poison])
    redis_flush()  # the streams are lost too: only the outbox can rebuild

    with pytest.raises(DataError), capture_logs() as logs:
        call_command("projections_rebuild", "--batch-size", "16", stdout=StringIO())
    [failure] = [log for log in logs if log["event"] == "projection_rebuild_failed"]
    assert failure["last_event_id"] == str(poison_row.id)

    assert read_models_snapshot() == incremental
    assert financial_kpis(days=30) == kpis
    after = ProjectionCheckpoint.objects.get(name="financial")
    assert (after.events_applied, after.last_event_id, after.last_rebuilt_at) == (
        checkpoint.events_applied,
        checkpoint.last_event_id,
        None,
    )
    assert not shadow_schema_exists()


def test_an_empty_replay_is_refused_while_the_read_models_hold_events():
    history = synthetic_history(claims=15, seed=5)
    # Applied from the bus, but absent from the outbox (say, purged): the replay finds nothing.
    get_event_bus().publish_batch(history)
    ProjectionConsumer(bus=get_event_bus(), consumer="w").drain()
    live = read_models_snapshot()
    assert live["processed_events"] == len(history)

    with pytest.raises(CommandError, match=r"applied none.*The live read models were kept"):
        call_command("projections_rebuild", stdout=StringIO())
    assert read_models_snapshot() == live
    assert not shadow_schema_exists()

    call_command("projections_rebuild", "--allow-empty", stdout=StringIO())
    assert read_models_snapshot()["processed_events"] == 0
    assert not FinancialDailyAggregate.objects.exists()


def test_worker_after_rebuild_skips_what_the_rebuild_applied():
    history = synthetic_history(claims=20, seed=5)
    outbox_record_envelopes(history)
    relay_everything()
    call_command("projections_rebuild", stdout=StringIO())
    rebuilt = read_models_snapshot()
    assert rebuilt["processed_events"] == len(history)
    worker = ProjectionConsumer(bus=get_event_bus(), consumer="late")
    assert worker.drain() == 0  # every delivered event is a duplicate of the replay
    assert read_models_snapshot() == rebuilt
    assert set(ProcessedEvent.objects.values_list("event_id", flat=True)) == {
        str(row.id) for row in OutboxEvent.objects.using(settings.SHARD_ALIASES[0]).none()
    } | set(ProcessedEvent.objects.values_list("event_id", flat=True))


def test_dead_letters_and_discarded_rows_are_not_replayed():
    history = synthetic_history(claims=4, seed=2)
    rows = outbox_record_envelopes(history)
    dead, discarded = rows[0], rows[1]
    OutboxEvent.objects.using(dead._state.db).filter(id=dead.id).update(status=OutboxStatus.DEAD)
    OutboxEvent.objects.using(discarded._state.db).filter(id=discarded.id).update(status=OutboxStatus.DISCARDED)
    call_command("projections_rebuild", stdout=StringIO())
    applied = set(ProcessedEvent.objects.values_list("event_id", flat=True))
    assert applied == {str(row.id) for row in rows[2:]}


def kpis_from_another_connection() -> dict:
    """The dashboard figures as a reader outside the rebuild's transaction sees them."""
    seen: dict = {}

    def read() -> None:
        try:
            seen.update(financial_kpis(days=30))
        finally:
            connections.close_all()

    reader = threading.Thread(target=read)
    reader.start()
    reader.join(timeout=30)
    return seen


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_dashboards_read_the_old_read_models_until_the_rebuild_commits():
    history = synthetic_history(claims=40, seed=13)
    projected_incrementally(history)
    correct = financial_kpis(days=30)
    FinancialDailyAggregate.objects.update(claim_count=999)  # live read models gone wrong
    damaged = financial_kpis(days=30)
    assert damaged != correct

    during: list[dict] = []

    def observed_history():
        for index, batch in enumerate(outbox_history(event_types=EVENT_TYPES, batch_size=10)):
            yield batch
            if index == 2:  # three batches are in the new read models, not yet swapped in
                during.append(kpis_from_another_connection())

    read_models_rebuild(history=observed_history())
    assert during == [damaged]
    assert kpis_from_another_connection() == correct
    assert not shadow_schema_exists()
