"""Under prometheus_client's multiprocess mode (gunicorn) /metrics only sums sample files: the
relay's beat fan-out measures the outbox backlog into "most recent" gauges there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.db import transaction

from apps.outbox.services import outbox_event_record
from tests.outbox.test_relay_worker import ROOT
from tests.support.databases import child_env

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)

MEASURE_AND_READ = """
import django
django.setup()
from apps.outbox.metrics import outbox_backlog_record
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
outbox_backlog_record()
registry = CollectorRegistry()
multiprocess.MultiProcessCollector(registry)
print(generate_latest(registry).decode())
"""


def test_fan_out_measures_backlog_into_multiprocess_gauges(tmp_path, patient, settings):
    with transaction.atomic(using="shard_0"):
        for _ in range(2):
            outbox_event_record(
                using="shard_0", aggregate_type="Patient", aggregate_id=patient.id, event_type="GaugeProbe", payload={}
            )
    env = child_env(PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", MEASURE_AND_READ], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    exposition = result.stdout
    assert 'outbox_pending_events{shard_id="shard_0"} 2.0' in exposition
    assert 'outbox_pending_events{shard_id="shard_1"} 0.0' in exposition
    assert 'outbox_dead_letters{shard_id="shard_0"} 0.0' in exposition
    assert "outbox_backlog_measured_timestamp_seconds" in exposition
    assert list(Path(tmp_path).glob("*.db"))
