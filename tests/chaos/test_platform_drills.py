"""Drills outside the SQL tier, each with its rollback: stale shard map, audit store outage, worker
kill, latency on one shard only. Every fault is real and undone. (What the event bus outage, the
projection worker kill and the latency injection do to the platform: test_drill_outcomes.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connections

from apps.chaos import components, ha_lab
from apps.chaos.models import RunStatus
from apps.chaos.runner import run_execute
from apps.core.metrics import SHARD_MAP_FALLBACK_TOTAL
from apps.core.models import ShardMapEntry
from apps.core.resolver import resolver

from .conftest import approved_run

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def step(name, action, **arguments):
    return {"name": name, "type": "action", "action": action, "arguments": arguments}


def probe_step(name, probe, **arguments):
    return {"name": name, "type": "probe", "probe": probe, "arguments": arguments}


def outputs(run) -> dict:
    return {e["activity"]["name"]: e["output"] for e in run.journal["run"]}


def fallbacks() -> float:
    return sum(s.value for m in SHARD_MAP_FALLBACK_TOTAL.collect() for s in m.samples if s.name.endswith("_total"))


def test_stale_shard_map_is_served_from_memory_and_restored():
    shard_1_bucket = ShardMapEntry.objects.filter(shard_alias="shard_1").first().bucket_start
    assert resolver.shard_for_bucket(shard_1_bucket) == "shard_1"  # remembered from now on
    before = fallbacks()
    run = run_execute(
        run=approved_run(
            method=[
                {**step("stale", "shard_map_stale", shard="shard_1"), "injection": True},
                probe_step("resolve during", "shard_resolve", bucket=shard_1_bucket),
                step("restore", "shard_map_restore", shard="shard_1"),
            ],
            rollbacks=[step("restore", "shard_map_restore", shard="shard_1")],
        )
    )
    assert run.status == RunStatus.COMPLETED, run.journal
    assert outputs(run)["resolve during"] == "shard_1"
    assert fallbacks() > before
    assert set(ShardMapEntry.objects.values_list("shard_alias", flat=True)) == {"shard_0", "shard_1"}


def test_stale_shard_map_rollback_restores_after_an_abort_by_failure():
    run = run_execute(
        run=approved_run(
            method=[{**step("stale", "shard_map_stale", shard="shard_1"), "injection": True}, step("break", "fail")],
            rollbacks=[step("restore", "shard_map_restore", shard="shard_1")],
        )
    )
    assert run.status == RunStatus.FAILED
    assert not ShardMapEntry.objects.filter(shard_alias="shard_1_retired").exists()
    assert ShardMapEntry.objects.filter(shard_alias="shard_1").exists()


def test_audit_store_outage_refuses_connections_until_rolled_back():
    run = run_execute(
        run=approved_run(
            blast_radius={
                "targets": [{"kind": "component", "name": "audit_store"}],
                "max_patient_share": 0.5,
                "max_traffic_share": 0.5,
                "max_delayed_share": 1.0,
            },
            method=[
                {**step("down", "audit_store_outage"), "injection": True},
                probe_step("reachable during", "audit_store_reachable"),
                step("break", "fail"),
            ],
            rollbacks=[step("back", "audit_store_restore")],
        )
    )
    assert outputs(run)["reachable during"] is False
    assert run.journal["rollbacks"][0]["status"] == "succeeded"
    with connections["audit"].cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_worker_kill_and_restart_of_the_lab_component(settings, tmp_path):
    """The manifest names the component; the lab resolves it to its own pid file and command, and the
    restarted process is a child of the lab (same process group), not a new session."""
    settings.PIMLAB_RUN_DIR = str(tmp_path)
    command = [sys.executable, "-c", "import time; time.sleep(300)", "projections_worker"]
    settings.PIMLAB_CHAOS_COMPONENT_COMMANDS = {"projection_worker": command}
    pidfile = tmp_path / "projection_worker.pid"
    worker = subprocess.Popen(command)
    pidfile.write_text(str(worker.pid))
    try:
        run = run_execute(
            run=approved_run(
                blast_radius={
                    "targets": [{"kind": "component", "name": "projection_worker"}],
                    "max_patient_share": 0.5,
                    "max_traffic_share": 0.5,
                    "max_delayed_share": 1.0,
                },
                method=[{**step("kill", "process_kill", component="projection_worker"), "injection": True}],
                rollbacks=[step("start", "process_start", component="projection_worker")],
            )
        )
        assert run.status == RunStatus.COMPLETED, run.journal
        assert worker.wait(timeout=10) == -signal.SIGKILL
        restarted = int(Path(pidfile).read_text())
        assert restarted != worker.pid and ha_lab.process_alive(restarted)
        assert os.getpgid(restarted) == os.getpgid(0)  # the lab's process tree: stops with it
    finally:
        components.stop_children()
        ha_lab.kill_pid(worker.pid)


def test_latency_is_injected_on_one_shard_only_and_removed():
    run = run_execute(
        run=approved_run(
            method=[
                {**step("inject", "shard_latency_inject", shard="shard_1", delay_ms=50), "injection": True},
                probe_step("on shard_1", "shard_latency_injected", shard="shard_1"),
            ],
            rollbacks=[step("remove", "shard_latency_remove", shard="shard_1")],
        )
    )
    assert run.status == RunStatus.COMPLETED, run.journal
    assert outputs(run)["on shard_1"] is True
    for alias in ("shard_0", "shard_1"):
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgname = 'pimlab_chaos_latency'")
            assert cursor.fetchone()[0] == 0


def test_latency_injection_outside_the_blast_radius_is_rejected_by_the_dry_run():
    import yaml

    from apps.chaos import services

    from .conftest import small_manifest

    revision = services.experiment_submit(
        key="api/latency-elsewhere",
        manifest_text=yaml.safe_dump(
            small_manifest(method=[step("inject", "shard_latency_inject", shard="shard_0", delay_ms=50)])
        ),
        author="sre-author",
    )
    report = services.revision_dry_run(revision=revision)
    errors = {c["check"]: c["errors"] for c in report["checks"]}
    assert any("names shard 'shard_0', outside the blast radius" in e for e in errors["targets"])
