"""A real projection worker process killed with SIGKILL mid-batch: its pending entries are claimed
by the next worker and the totals come out exact (no loss, no double count)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from apps.outbox.eventbus import get_event_bus
from apps.projections.consumer import ProjectionConsumer
from apps.projections.events import CONSUMER_GROUP, STREAMS, parse_envelope
from apps.projections.models import ClaimFact, EncounterFact, FinancialDailyAggregate, ProcessedEvent
from apps.projections.selectors import read_models_snapshot
from apps.projections.services import read_models_apply
from tests.projections.conftest import synthetic_history
from tests.support.databases import child_env

pytestmark = [pytest.mark.django_db(databases="__all__", transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def worker_env() -> dict:
    return child_env(
        PIMLAB_REDIS_URL=settings.PIMLAB_REDIS_URL,
        PIMLAB_EVENTBUS_URL=settings.PIMLAB_EVENTBUS_URL,
        PIMLAB_LOG_LEVEL="WARNING",
    )


def pending(bus) -> int:
    return sum(bus.pending_count(stream, CONSUMER_GROUP) for stream in STREAMS)


def test_sigkilled_worker_mid_batch_loses_and_doubles_nothing():
    history = synthetic_history(claims=1200, seed=11)
    read_models_apply([parse_envelope(envelope) for envelope in history])
    expected = read_models_snapshot()
    for model in (FinancialDailyAggregate, ClaimFact, EncounterFact, ProcessedEvent):
        model.objects.all().delete()

    bus = get_event_bus()
    bus.publish_batch(history)
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "projections_worker", "--consumer", "victim", "--batch-size", "400"],
        cwd=ROOT,
        env=worker_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        # Kill once it has committed a batch and holds the next one delivered but unacknowledged. The
        # worker is stopped (SIGSTOP) while that is checked, so the state seen is the state killed: a
        # fast worker could otherwise acknowledge its batch between the check and the kill.
        while True:
            assert worker.poll() is None, worker.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the worker never held a delivered batch after a commit in 60 s"
            if ProcessedEvent.objects.count() > 0:
                os.kill(worker.pid, signal.SIGSTOP)
                if pending(bus) > 0:
                    break
                os.kill(worker.pid, signal.SIGCONT)
            time.sleep(0.02)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()

    applied_by_victim = ProcessedEvent.objects.count()
    left_pending = pending(bus)
    assert 0 < applied_by_victim < len(history)
    assert left_pending > 0

    survivor = ProjectionConsumer(bus=bus, consumer="survivor", batch_size=400, claim_idle_ms=0)
    survivor.drain()
    assert pending(bus) == 0
    assert read_models_snapshot() == expected
