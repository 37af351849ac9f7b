"""The relay runs in a real Celery worker: a booking's on-commit nudge and the beat fan-out drain
the shards. The worker is a separate process on this checkout's Redis database and test databases."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import transaction

from apps.outbox import schedules as outbox_schedules
from apps.outbox.models import OutboxEvent, OutboxStatus
from apps.outbox.services import outbox_event_record
from apps.outbox.tasks import outbox_relay_fan_out_task
from pimlab_portal.celery import app as celery_app
from tests.encounters.conftest import book, booking_body
from tests.outbox.recording import RELAY_EVENT, valid_payload
from tests.support.databases import child_env
from tests.support.processes import process_stop

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def relay_worker(tmp_path):
    queue = f"enc-relay-{uuid.uuid4().hex[:8]}"
    env = child_env()
    log_path = tmp_path / "worker.log"
    log = log_path.open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "pimlab_portal", "worker", "-P", "solo", "-Q", queue,
         "-n", f"{queue}@localhost", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    worker.log_path = log_path
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    try:
        yield worker
    finally:
        celery_app.conf.task_default_queue = previous
        process_stop(worker, timeout=15)
        log.close()


def wait_until_ready(worker: subprocess.Popen, timeout: float = 120) -> None:
    """The worker consumes its queue (Celery logs " ready."): a task sent now is not left to expire."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert worker.poll() is None, worker.log_path.read_text()[-2000:]
        if " ready." in worker.log_path.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise AssertionError(f"the relay worker was not ready within {timeout} s")


def wait_until_published(alias: str, event_ids: list[int], deadline_s: float = 60) -> set[str]:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        statuses = set(OutboxEvent.objects.using(alias).filter(pk__in=event_ids).values_list("status", flat=True))
        if statuses == {OutboxStatus.PUBLISHED}:
            return statuses
        time.sleep(0.2)
    return set(OutboxEvent.objects.using(alias).filter(pk__in=event_ids).values_list("status", flat=True))


def test_booking_nudges_a_worker_that_publishes_its_event(relay_worker, patient, patient_persona):
    from apps.outbox import tasks

    wait_until_ready(relay_worker)
    tasks._last_nudge.clear()
    response = book(patient_persona[1], booking_body(patient.id))
    assert response.status_code == 202
    assert wait_until_published("shard_0", [int(response.json()["tracking_id"])]) == {OutboxStatus.PUBLISHED}
    assert relay_worker.poll() is None


def test_beat_fan_out_drains_every_shard(relay_worker, patient, other_patient):
    from apps.outbox import tasks

    # Recording an event nudges its relay on commit; hold the nudges back so only the fan-out drains.
    tasks._last_nudge.update({alias: time.monotonic() + 3600 for alias in ("shard_0", "shard_1")})
    recorded = {}
    for alias, owner in (("shard_0", patient), ("shard_1", other_patient)):
        with transaction.atomic(using=alias):
            recorded[alias] = outbox_event_record(
                using=alias,
                event_type=RELAY_EVENT,
                aggregate_id=owner.id,
                payload=valid_payload(RELAY_EVENT, patient_id=owner.id),
            ).id
    tasks._last_nudge.clear()
    assert OutboxEvent.objects.using("shard_0").get(pk=recorded["shard_0"]).status == OutboxStatus.PENDING
    assert "outbox-relay-every-few-seconds" in outbox_schedules.BEAT_SCHEDULE
    outbox_relay_fan_out_task.delay()
    for alias, event_id in recorded.items():
        assert wait_until_published(alias, [event_id]) == {OutboxStatus.PUBLISHED}, alias
