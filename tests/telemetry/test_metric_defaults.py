"""Metrics exist before traffic: the seed's metric names with their known label sets at zero in a
fresh process, and chaos_experiment_active one series per experiment whatever the process count."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from tests.encounters.conftest import book, booking_body
from tests.factories import PatientFactory, persona_user

ROOT = Path(__file__).resolve().parents[2]
SEED_METRICS = (
    "http_server_duration_seconds",
    "encounter_write_latency",
    "eventbus_publish_latency",
    "encounter_note_update_duration",
    "audit_event_write_total",
    "claim_submit_latency",
    "projection_worker_lag_seconds",
    "sql_failover_duration_seconds",
    "api_error_ratio",
    "chaos_experiment_active",
)
EXPOSE = """
import django, sys
django.setup()
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
{action}
registry = CollectorRegistry()
multiprocess.MultiProcessCollector(registry)
sys.stdout.write(generate_latest(registry).decode())
"""


def run_process(folder: Path, action: str = "") -> str:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "pimlab_portal.settings.test",
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
    }
    result = subprocess.run(
        [sys.executable, "-c", EXPOSE.format(action=action)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def samples(exposition: str, name: str) -> list[str]:
    return [line for line in exposition.splitlines() if line.startswith(name) and not line.startswith("#")]


def test_a_fresh_process_exports_every_seed_metric_at_zero(tmp_path):
    exposition = run_process(tmp_path)
    for name in SEED_METRICS:
        found = samples(exposition, name)
        assert found, f"{name} has no series before traffic"
        assert all(line.endswith((" 0.0", " 0")) for line in found if "_bucket" not in line and "_created" not in line)
    booking = (
        'http_server_duration_seconds_count{method="POST",persona="patient",route="api/encounters",status="202"} 0.0'
    )
    assert booking in exposition
    assert (
        'http_server_duration_seconds_count{method="POST",persona="patient",route="api/encounters",status="503"} 0.0'
        in (exposition)
    )
    assert 'outbox_dead_lettered_total{event_type="EncounterCreated",shard_id="shard_0"} 0.0' in exposition
    assert 'synthetic_probe_success_total{scenario="claim_submission",shard_id="shard_1"} 0.0' in exposition
    experiments = sorted(p.name for p in (ROOT / "chaos" / "experiments").glob("*.yaml"))
    active = samples(exposition, "chaos_experiment_active")
    assert len(active) == len(experiments) >= 8
    assert all(f'experiment="{name}"' in "\n".join(active) for name in experiments)


def test_chaos_experiment_active_is_one_series_per_experiment_not_per_process(tmp_path):
    set_active = (
        "from apps.chaos.metrics import CHAOS_EXPERIMENT_ACTIVE\n"
        "CHAOS_EXPERIMENT_ACTIVE.labels(experiment='sql-failover-pod-kill.yaml', shard_id='pimlab-ha').set(1)"
    )
    run_process(tmp_path, set_active)  # a worker that started a drill
    exposition = run_process(tmp_path)  # a later process (another worker) only initialises its series
    active = samples(exposition, 'chaos_experiment_active{experiment="sql-failover-pod-kill.yaml"')
    assert active == ['chaos_experiment_active{experiment="sql-failover-pod-kill.yaml",shard_id="pimlab-ha"} 1.0']
    assert "pid=" not in "\n".join(samples(exposition, "chaos_experiment_active"))


@pytest.mark.django_db(databases="__all__")
def test_a_real_booking_counts_on_the_initialised_series():
    patient = PatientFactory(bucket=3)
    _, token = persona_user("patient", patient=patient)
    labels = {"route": "api/encounters", "method": "POST", "status": "202", "persona": "patient"}
    before = REGISTRY.get_sample_value("http_server_duration_seconds_count", labels)
    assert before is not None, "initialised at process start"
    assert book(token, booking_body(patient.id)).status_code == 202
    assert REGISTRY.get_sample_value("http_server_duration_seconds_count", labels) == before + 1
