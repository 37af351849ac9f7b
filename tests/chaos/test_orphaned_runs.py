"""No orphaned runs (issue 13): the chaos worker is SIGKILLed in the middle of a drill with a real
fault injected; the reaper runs the rollbacks, ends the run `aborted (worker lost)`, puts
`chaos_experiment_active` back to 0 and the synthetic probes stop skipping the shard.

Bound: a lost run is reaped within PIMLAB_CHAOS_HEARTBEAT_TIMEOUT_SECONDS + one reaper interval
+ its rollbacks — with the defaults 30 s + 10 s + rollbacks; here the timeout is 3 s and the
reaper is polled every second, and the whole recovery must take under 20 s after the kill.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import redis
from django.conf import settings
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from apps.chaos import services
from apps.chaos.models import WORKER_LOST, ExperimentRun, RunStatus
from apps.core.models import ShardMapEntry
from apps.probes.chaos_guard import chaos_cover
from apps.probes.models import ProbeScenario
from tests.support.databases import child_env

from .conftest import approved_run

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.slow]

HEARTBEAT_TIMEOUT_SECONDS = 3
RECOVERY_BOUND_SECONDS = 20


def lab_env(metrics_dir) -> dict:
    return child_env(
        PIMLAB_BROKER_URL=settings.CELERY_BROKER_URL,
        PIMLAB_EVENTBUS_URL=settings.PIMLAB_EVENTBUS_URL,
        PIMLAB_CHAOS_HEARTBEAT_SECONDS="0.5",
        PIMLAB_CHAOS_HEARTBEAT_TIMEOUT_SECONDS=str(HEARTBEAT_TIMEOUT_SECONDS),
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        PIMLAB_LOG_LEVEL="WARNING",
    )


def active_gauge(metrics_dir, experiment: str) -> float | None:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(metrics_dir))
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name == "chaos_experiment_active" and sample.labels.get("experiment") == experiment:
                return sample.value
    return None


def wait_for(check, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigkilled_chaos_worker_is_reaped_rolled_back_and_the_probes_resume(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = lab_env(metrics_dir)
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("chaos")
    worker = subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "pimlab_portal", "worker", "--queues", "chaos"),
            *("--concurrency", "1", "--hostname", "chaos-drill-test@%h", "--loglevel", "WARNING"),
            *("--without-gossip", "--without-mingle", "--without-heartbeat"),
        ],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    key = "api/worker-lost"
    try:
        # A real fault (shard_1's map entries made stale), then a long hold: the worker dies in it.
        run = approved_run(
            key=key,
            method=[
                {
                    "name": "stale map",
                    "type": "action",
                    "action": "shard_map_stale",
                    "arguments": {"shard": "shard_1"},
                    "injection": True,
                },
                {"name": "hold the fault", "type": "action", "action": "pause", "arguments": {"seconds": 90}},
            ],
            rollbacks=[
                {"name": "restore", "type": "action", "action": "shard_map_restore", "arguments": {"shard": "shard_1"}}
            ],
        )
        services.run_enqueue(run.pk)  # what run_launch does on commit

        def injected():
            run.refresh_from_db()
            steps = [e["activity"]["name"] for e in (run.journal or {}).get("run", [])]
            return "stale map" in steps and run.heartbeat_at is not None

        wait_for(injected, timeout=90, what="the chaos worker to inject the fault")
        assert ShardMapEntry.objects.filter(shard_alias="shard_1_retired").exists()
        assert chaos_cover(scenario=ProbeScenario.ENCOUNTER_BOOKING, shard_alias="shard_1") is not None
        assert active_gauge(metrics_dir, key) == 1.0

        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool child, mid-drill
        worker.wait(timeout=10)
        killed_at = time.monotonic()

        def reaped():
            # The beat task's body, as a process of its own (it shares the metrics folder).
            done = subprocess.run(
                [sys.executable, "manage.py", "chaos_reap"],
                env=env,
                cwd=settings.BASE_DIR,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
            return json.loads(done.stdout.strip().splitlines()[-1])

        outcome = wait_for(reaped, timeout=RECOVERY_BOUND_SECONDS, what="the reaper to take the lost run")
        recovered_in = time.monotonic() - killed_at
        print(f"lost run recovered {recovered_in:.1f} s after the SIGKILL")
        assert outcome == [{"run_id": run.pk, "outcome": WORKER_LOST, "rollbacks": "succeeded"}]

        run = ExperimentRun.objects.get(pk=run.pk)
        assert run.status == RunStatus.ABORTED and run.outcome == "aborted (worker lost)"
        assert run.abort_reason.startswith("worker lost: no heartbeat since")
        assert [(e["activity"]["name"], e["status"]) for e in run.journal["rollbacks"]] == [("restore", "succeeded")]
        assert not ShardMapEntry.objects.filter(shard_alias="shard_1_retired").exists()  # the fault is undone
        assert active_gauge(metrics_dir, key) == 0.0
        assert chaos_cover(scenario=ProbeScenario.ENCOUNTER_BOOKING, shard_alias="shard_1") is None  # probes run
        assert recovered_in < RECOVERY_BOUND_SECONDS, recovered_in
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
        broker.delete("chaos")
