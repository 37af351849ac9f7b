"""A real Celery worker drains the audit buffer that built up during an audit-store outage."""

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from apps.audits.models import AuditEvent, AuditRecord
from apps.audits.shipping import audit_events_ship
from apps.audits.tasks import audit_ship_shard
from apps.audits.verification import audit_chain_verify
from tests.audits.audit_store_control import audit_store_down
from tests.encounters.notes.note_scenario import note_world, patch_note
from tests.support.api import api_client
from tests.support.databases import child_env
from tests.support.processes import process_stop

pytestmark = [pytest.mark.django_db(databases="__all__", transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker():
    """A solo Celery worker on a queue of its own, using this test run's databases and Redis db."""
    queue = f"audit-test-{uuid.uuid4().hex[:8]}"
    env = child_env(PIMLAB_BROKER_URL=settings.CELERY_BROKER_URL, PIMLAB_LOG_LEVEL="WARNING")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "pimlab_portal",
            "worker",
            "--pool",
            "solo",
            "-Q",
            queue,
            "-n",
            f"{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield queue
    finally:
        process_stop(process, timeout=20)


def _wait_until(predicate, *, bound_seconds: float = 90.0) -> bool:
    deadline = time.monotonic() + bound_seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return predicate()


def test_worker_drains_the_buffer_after_an_outage_in_order(worker):
    world = note_world()
    alias = world.encounter._state.db
    clinician = api_client(world.tokens["care_team_clinician"])
    with audit_store_down():
        for version in range(3):
            assert (
                patch_note(clinician, world.encounter.id, {"text": f"Entry {version}."}, version=version).status_code
                == 200
            )
        assert audit_events_ship(shard_alias=alias).buffer.depth == 3
    waiting = list(
        AuditEvent.objects.using(alias)
        .filter(shipped_at__isnull=True)
        .order_by("occurred_at", "id")
        .values_list("id", flat=True)
    )

    audit_ship_shard.apply_async(args=[alias], queue=worker)

    assert _wait_until(lambda: not AuditEvent.objects.using(alias).filter(shipped_at__isnull=True).exists())
    stored = list(
        AuditRecord.objects.filter(shard_alias=alias).order_by("sequence").values_list("source_event_id", flat=True)
    )
    assert stored == waiting
    assert audit_chain_verify(shard_alias=alias).intact
