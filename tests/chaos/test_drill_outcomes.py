"""What the platform drills must show, with the real components: the outbox backs up during an event
bus outage and the real relay drains it afterwards (nothing lost, nothing applied twice); the
projection falls behind while its worker is dead and catches up exactly after the restart;
latency injected on one shard slows bookings on that shard only."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.utils import timezone
from rest_framework.test import APIClient

from apps.chaos import components, ha_lab
from apps.chaos.activities import get_activity
from apps.chaos.models import RunStatus
from apps.chaos.registry import ActivityContext
from apps.chaos.runner import run_execute
from apps.core.actors import Actor
from apps.core.models import PersonaRole
from apps.encounters.metrics import ENCOUNTER_WRITE_LATENCY
from apps.encounters.services import booking_request_fingerprint, encounter_book
from apps.outbox.eventbus import RedisStreamsEventBus, get_event_bus, reset_event_bus, stream_for
from apps.outbox.events import EventType
from apps.outbox.models import OutboxEvent, OutboxStatus
from apps.projections.consumer import ProjectionConsumer
from apps.projections.events import CONSUMER_GROUP, STREAMS, parse_envelope
from apps.projections.models import ClaimFact, EncounterFact, FinancialDailyAggregate, ProcessedEvent
from apps.projections.selectors import read_models_snapshot
from apps.projections.services import read_models_apply
from tests.factories import PatientFactory, persona_user
from tests.projections.conftest import synthetic_history
from tests.support.api import api_client
from tests.support.databases import child_env

from .conftest import approved_run, free_base_port

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

ROOT = Path(__file__).resolve().parents[2]
SHARD_0_BUCKET, SHARD_1_BUCKET = 3, 1000  # the even split: shard_0 and shard_1


def act(name: str, **arguments):
    return get_activity("action", name).function(ActivityContext(), **arguments)


def measure(name: str, **arguments):
    return get_activity("probe", name).function(ActivityContext(), **arguments)


def component_blast_radius(name: str) -> dict:
    return {
        "targets": [{"kind": "component", "name": name}],
        "max_patient_share": 0.5,
        "max_traffic_share": 0.5,
        "max_delayed_share": 1.0,
    }


# --- event bus outage --------------------------------------------------------------------------


@pytest.fixture
def dedicated_broker(tmp_path, settings):
    """A Redis of its own as the lab's event bus (frozen by the drill), its pid file in the lab's run
    folder where the drill finds it (never a path from the manifest); killed by PID afterwards."""
    port = free_base_port(low=15440, high=15500, span=2)
    settings.PIMLAB_RUN_DIR = str(tmp_path)
    pidfile = tmp_path / "eventbus.pid"
    subprocess.run(
        [
            *("redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
            *("--daemonize", "yes", "--pidfile", str(pidfile), "--dir", str(tmp_path)),
        ],
        check=True,
    )
    for _ in range(50):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        time.sleep(0.1)
    settings.PIMLAB_EVENTBUS_URL = f"redis://127.0.0.1:{port}/0"
    reset_event_bus()
    try:
        yield pidfile, settings.PIMLAB_EVENTBUS_URL
    finally:
        pid = int(pidfile.read_text())
        os.kill(pid, signal.SIGCONT)
        ha_lab.kill_pid(pid)
        reset_event_bus()


def book(patient, user, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        start = timezone.now() + timedelta(days=3)
        booking = encounter_book(
            actor=Actor.from_user(user),
            patient_id=patient.id,
            encounter_type="in_person",
            reason="Drill booking",
            requested_start=start,
            idempotency_key=uuid.uuid4().hex,
            request_fingerprint=booking_request_fingerprint(
                patient_id=patient.id, encounter_type="in_person", reason="Drill booking", requested_start=start
            ),
        )
        ids.append(str(booking.encounter.id))
    return ids


def test_eventbus_outage_backs_the_outbox_up_and_the_relay_drains_it_without_loss_or_double_apply(
    dedicated_broker, settings
):
    settings.PIMLAB_OUTBOX_BACKOFF_BASE_SECONDS = 0.01  # the thawed bus is retried at once
    _, bus_url = dedicated_broker
    patient = PatientFactory(bucket=SHARD_0_BUCKET)
    user, _ = persona_user(PersonaRole.PATIENT, patient=patient)

    booked = book(patient, user, 3)
    assert act("outbox_drain", shard="shard_0") == {
        "shard": "shard_0",
        "published": 3,
        "pending": 0,
        "dead": 0,
    }

    act("eventbus_outage", component="eventbus")
    try:
        booked += book(patient, user, 4)
        assert measure("outbox_pending", shard="shard_0") == 4
        during = act("outbox_drain", shard="shard_0")  # the relay meets a frozen bus
        assert during["published"] == 0 and during["pending"] == 4 and during["dead"] == 0
        booked += book(patient, user, 3)
        assert measure("outbox_pending", shard="shard_0") == 7  # backs up while the bus is out
        # One patient's events keep their order: the first was charged an attempt (backing off, never
        # a dead letter on a bus outage), the later ones wait behind it uncharged.
        charged = OutboxEvent.objects.using("shard_0").filter(attempts__gt=0)
        assert [e.status for e in charged] == [OutboxStatus.PENDING]
    finally:
        act("eventbus_restore", component="eventbus")

    after = act("outbox_drain", shard="shard_0")
    assert after == {"shard": "shard_0", "published": 7, "pending": 0, "dead": 0}

    # Every booking reached the bus (a batch the frozen Redis read before the client gave up may be
    # there twice: delivery is at least once); the idempotent consumer applies each exactly once.
    bus = RedisStreamsEventBus(bus_url)
    consumer = ProjectionConsumer(bus=bus, consumer="drill-check", block_ms=None)
    delivered = duplicates = 0
    while True:
        outcome = consumer.run_once(blocking=False)
        if not outcome.delivered:
            break
        delivered, duplicates = delivered + outcome.delivered, duplicates + outcome.duplicates
    applied = [str(i) for i in EncounterFact.objects.values_list("encounter_id", flat=True)]
    assert sorted(applied) == sorted(booked) and len(set(applied)) == 10
    assert delivered == bus.client.xlen(stream_for(EventType.ENCOUNTER_CREATED)) == 10 + duplicates


def test_eventbus_outage_run_thaws_the_broker_in_its_rollback_and_drains(dedicated_broker, settings):
    settings.PIMLAB_OUTBOX_BACKOFF_BASE_SECONDS = 0.01
    _, bus_url = dedicated_broker
    patient = PatientFactory(bucket=SHARD_0_BUCKET)
    user, _ = persona_user(PersonaRole.PATIENT, patient=patient)
    book(patient, user, 2)
    step = {"type": "action"}
    run = run_execute(
        run=approved_run(
            blast_radius={
                "targets": [{"kind": "component", "name": "eventbus"}, {"kind": "shard", "name": "shard_0"}],
                "max_patient_share": 0.5,
                "max_traffic_share": 0.5,
                "max_delayed_share": 1.0,
            },
            method=[
                {**step, "name": "freeze", "action": "eventbus_outage", "arguments": {"component": "eventbus"}}
                | {"injection": True},
                {"name": "backlog", "type": "probe", "probe": "outbox_pending", "arguments": {"shard": "shard_0"}},
                {**step, "name": "fail", "action": "fail"},
            ],
            rollbacks=[
                {**step, "name": "thaw", "action": "eventbus_restore", "arguments": {"component": "eventbus"}},
                {**step, "name": "drain", "action": "outbox_drain", "arguments": {"shard": "shard_0"}},
            ],
        )
    )
    assert run.status == RunStatus.FAILED  # the deliberate failure; the rollbacks still ran
    assert run.journal["run"][1]["output"] == 2
    assert [r["status"] for r in run.journal["rollbacks"]] == ["succeeded", "succeeded"]
    assert run.journal["rollbacks"][1]["output"] == {"shard": "shard_0", "published": 2, "pending": 0, "dead": 0}
    assert redis.Redis.from_url(bus_url).xlen(stream_for("EncounterCreated")) == 2


# --- projection worker kill --------------------------------------------------------------------


def projection_worker_argv() -> list[str]:
    return [
        sys.executable,
        str(ROOT / "manage.py"),
        "projections_worker",
        "--consumer",
        "drill",
        "--claim-idle-ms",
        "0",
    ]


def projection_pending(bus) -> int:
    return sum(bus.pending_count(stream, CONSUMER_GROUP) for stream in STREAMS)


@pytest.mark.slow
def test_projection_worker_kill_raises_staleness_and_the_restarted_worker_catches_up_exactly(
    tmp_path, settings, monkeypatch
):
    history = synthetic_history(claims=300, seed=5)
    first, second = history[: len(history) // 2], history[len(history) // 2 :]
    read_models_apply([parse_envelope(envelope) for envelope in history])
    expected = read_models_snapshot()
    for model in (FinancialDailyAggregate, ClaimFact, EncounterFact, ProcessedEvent):
        model.objects.all().delete()
    bus = get_event_bus()
    bus.client.delete(*STREAMS)

    env = child_env(PIMLAB_EVENTBUS_URL=settings.PIMLAB_EVENTBUS_URL, PIMLAB_LOG_LEVEL="WARNING")
    # The lab's projection worker: its command and environment come from the lab, not the manifest.
    settings.PIMLAB_RUN_DIR = str(tmp_path)
    settings.PIMLAB_CHAOS_COMPONENT_COMMANDS = {"projection_worker": projection_worker_argv()}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    pidfile = tmp_path / "projection_worker.pid"
    worker = subprocess.Popen(projection_worker_argv(), cwd=ROOT, env=env, start_new_session=True)
    pidfile.write_text(str(worker.pid))

    def caught_up(count: int) -> bool:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if ProcessedEvent.objects.count() >= count and measure("projection_backlog") == 0:
                return True
            time.sleep(0.2)
        return False

    try:
        bus.publish_batch(first)
        assert caught_up(len(first))
        assert measure("projection_staleness") == 0.0

        act("process_kill", component="projection_worker")
        worker.wait(timeout=10)
        bus.publish_batch(second)
        time.sleep(0.5)
        assert measure("projection_backlog") == len(second)  # nobody applies them
        assert measure("projection_staleness") > 0  # the oldest unapplied claim event ages
        assert ProcessedEvent.objects.count() == len(first)

        # The rollback of the drill: the lab starts its worker again from its own command line.
        act("process_start", component="projection_worker")
        assert caught_up(len(history))
        assert measure("projection_staleness") == 0.0
        assert projection_pending(bus) == 0
        assert read_models_snapshot() == expected  # exact totals: nothing lost, nothing counted twice
    finally:
        for pid in {worker.pid, int(pidfile.read_text())}:
            ha_lab.kill_pid(pid)
        if worker.poll() is None:
            worker.wait(timeout=10)
        components.stop_children()


# --- latency injection on one shard -------------------------------------------------------------


def booking_timings(client: APIClient, patient_id: int, count: int) -> list[float]:
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.post(
            "/api/encounters",
            {
                "patient_id": str(patient_id),
                "encounter_type": "in_person",
                "reason": "Latency drill",
                "requested_start": (timezone.now() + timedelta(days=4)).isoformat(),
            },
            format="json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        )
        timings.append(time.perf_counter() - started)
        assert response.status_code == 202, response.content
    return timings


def slow_write_count(shard: str, threshold: float) -> float:
    """Observations of encounter_write_latency on ``shard`` above ``threshold`` (a bucket bound)."""
    total = 0.0
    for metric in ENCOUNTER_WRITE_LATENCY.collect():
        for sample in metric.samples:
            if sample.labels.get("shard_id") != shard:
                continue
            if sample.name.endswith("_count"):
                total += sample.value
            elif sample.name.endswith("_bucket") and sample.labels["le"] == str(threshold):
                total -= sample.value
    return total


def test_latency_injection_slows_bookings_on_the_target_shard_only():
    delay = 0.25  # an encounter_write_latency bucket bound
    clients = {}
    for shard, bucket in (("shard_0", SHARD_0_BUCKET), ("shard_1", SHARD_1_BUCKET)):
        patient = PatientFactory(bucket=bucket)
        _, token = persona_user(PersonaRole.PATIENT, patient=patient)
        client = api_client(token)
        clients[shard] = (client, patient.id)

    before = {shard: booking_timings(client, pid, 5) for shard, (client, pid) in clients.items()}
    slow_before = {shard: slow_write_count(shard, delay) for shard in clients}
    act("shard_latency_inject", shard="shard_1", delay_ms=int(delay * 1000))
    try:
        during = {shard: booking_timings(client, pid, 5) for shard, (client, pid) in clients.items()}
    finally:
        act("shard_latency_remove", shard="shard_1")
    slow_during = {shard: slow_write_count(shard, delay) - slow_before[shard] for shard in clients}
    after = booking_timings(*clients["shard_1"], 5)

    # Every booking on shard_1 waited for the trigger: the whole distribution (p50 and p99) moved
    # past the injected delay, and encounter_write_latency{shard_id="shard_1"} saw each one.
    assert min(during["shard_1"]) >= delay
    assert slow_during["shard_1"] == 5
    # shard_0 did not: its median stays below the delay (as shard_1's did before and after).
    assert statistics.median(during["shard_0"]) < delay
    assert slow_during["shard_0"] < 5
    assert statistics.median(before["shard_1"]) < delay and statistics.median(after) < delay
