"""The persona load during drills: Locust, headless, a child of the lab, against a live gunicorn of
the lab, started and stopped by governed actions; its report (requests/s, failures, p50/p95/p99 per
operation) lands in the run's summary and on the run's page, its files in the run's folder."""

from __future__ import annotations

import json
import threading

import pytest
import yaml
from django.db import connections
from django.test import override_settings
from django.urls import reverse

from apps.chaos import dry_run as dry_run_module
from apps.chaos.ha_lab import process_alive
from apps.chaos.models import ExperimentRun, RunStatus
from apps.chaos.runner import run_execute
from apps.chaos.services import experiment_submit, revision_approve, revision_dry_run, run_launch
from apps.core.models import PersonaRole
from tests.factories import persona_user
from tests.probes.conftest import probe_world  # noqa: F401 - the synthetic personas on every shard
from tests.support.lab_processes import free_port, gunicorn, lab_environment, lab_processes

from .conftest import approved_run, manifest_text, small_manifest

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

BASELINE = "persona-load-baseline.yaml"


@pytest.fixture
def live_lab(probe_world, tmp_path, monkeypatch):  # noqa: F811
    """A gunicorn of the lab on the test databases; the lab's URL and run folders point at it."""
    monkeypatch.setenv("LOAD_WAIT_MIN", "0.1")  # the lab's think times, short for a few seconds of load
    monkeypatch.setenv("LOAD_WAIT_MAX", "0.3")
    with lab_processes(lambda: gunicorn("web", log_dir=tmp_path, env=lab_environment(), workers=2)) as processes:
        lab = processes[0]
        with override_settings(PIMLAB_EXTERNAL_URL=lab.url, PIMLAB_CHAOS_RUNS_DIR=str(tmp_path / "runs")):
            yield lab


def test_the_baseline_drill_runs_locust_against_the_lab_and_reports_per_operation(live_lab, tmp_path, client):
    revision = experiment_submit(
        key=BASELINE, manifest_text=manifest_text(BASELINE, owner="sre-author"), author="sre-author"
    )
    report = revision_dry_run(revision=revision)
    assert report["ok"], report
    revision_approve(revision=revision, approver="sre-approver")
    run = run_execute(run=run_launch(revision=revision, launched_by="sre-approver", enqueue=False))

    assert run.status == RunStatus.COMPLETED, (run.journal["run"], run.journal["rollbacks"])
    started = next(e for e in run.journal["run"] if e["activity"]["action"] == "persona_load_start")["output"]
    assert started["host"] == live_lab.url and started["users"] == 6
    assert not process_alive(started["pid"])  # stopped by the method's step, nothing left behind
    load = run.summary["persona_load"]
    assert load["requests"] > 0 and load["requests_per_second"] > 0
    assert load["failures"] == 0 and load["error_ratio"] == 0.0
    by_name = {op["operation"]: op for op in load["operations"]}
    assert by_name["book encounter"]["requests"] > 0
    for op in load["operations"]:
        assert isinstance(op["failures"], int)
        assert op["p50_ms"] is not None and op["p99_ms"] >= op["p95_ms"] >= op["p50_ms"] > 0, op
    # The steady state was probed on the load itself, before and after.
    after = run.journal["steady_states"]["after"]["probes"][0]
    assert after["activity"]["probe"] == "persona_load_error_ratio" and after["output"] == 0.0

    folder = tmp_path / "runs" / f"run-{run.pk}" / "persona-load"
    assert load["folder"] == str(folder)
    assert (folder / "personas.json").stat().st_mode & 0o777 == 0o600
    assert (folder.parent.stat().st_mode & 0o777) == 0o700
    assert json.loads((folder / "report.json").read_text())["operations"]
    assert (
        "| operation | requests | failures | req/s | p50 ms | p95 ms | p99 ms |" in (folder / "report.md").read_text()
    )

    sre, _ = persona_user(PersonaRole.SRE, username="sre-reader")
    client.force_login(sre)
    page = client.get(reverse("console-run", args=[run.pk])).content.decode()
    assert 'id="persona-load"' in page and "book encounter" in page
    assert f"{load['requests']} requests, 0 failed" in page


def _abort_once_loaded(run_id: int, stop: threading.Event) -> None:
    """Ask for the run's abort as soon as its persona load runs (as the SRE's abort button does)."""
    try:
        while not stop.wait(0.2):
            state = ExperimentRun.objects.filter(pk=run_id).values_list("state", flat=True).first() or {}
            if state.get("persona_load"):
                ExperimentRun.objects.filter(pk=run_id).update(abort_requested=True, abort_reason="test abort")
                return
    finally:
        connections.close_all()


def test_an_aborted_drill_stops_locust_through_its_rollback(live_lab):
    run = approved_run(
        duration_seconds=60,
        method=[
            {"name": "load", "type": "action", "action": "persona_load_start",
             "arguments": {"users": 4, "spawn_rate": 4, "duration_seconds": 60}},
            {"name": "hold", "type": "action", "action": "pause", "arguments": {"seconds": 50}},
            {"name": "stop", "type": "action", "action": "persona_load_stop"},
        ],
        rollbacks=[{"name": "stop the load", "type": "action", "action": "persona_load_stop"}],
    )  # fmt: skip
    stop = threading.Event()
    aborter = threading.Thread(target=_abort_once_loaded, args=(run.pk, stop))
    aborter.start()
    try:
        run = run_execute(run=run)
    finally:
        stop.set()
        aborter.join(timeout=10)

    assert run.status == RunStatus.ABORTED and run.abort_reason == "test abort", run.journal["run"]
    pid = run.journal["run"][0]["output"]["pid"]
    # Asked for 60 s, bounded by what was left of the run's 60 s hard stop when it started.
    assert 50 <= run.journal["run"][0]["output"]["duration_seconds"] < 60
    rollback = run.journal["rollbacks"][0]
    assert rollback["status"] == "succeeded" and rollback["output"]["stopped"] is True, rollback
    assert rollback["output"]["pid"] == pid and rollback["output"]["how"] == "stopped"
    assert not process_alive(pid)
    assert "persona_load" not in run.state  # nothing left for a reaper to stop
    assert run.summary["persona_load"]["stopped"] == "stopped"


def test_the_dry_run_knows_what_the_persona_load_needs_and_its_ceilings():
    # Nothing answers at the lab's URL: the drill could not load the lab.
    with override_settings(PIMLAB_EXTERNAL_URL=f"http://127.0.0.1:{free_port()}"):
        manifest = small_manifest(
            duration_seconds=30,
            method=[
                {"name": "load", "type": "action", "action": "persona_load_start",
                 "arguments": {"users": 500, "duration_seconds": 45}},
                {"name": "load elsewhere", "type": "action", "action": "persona_load_start",
                 "arguments": {"host": "http://example.org"}},
            ],
        )  # fmt: skip
        report = dry_run_module.dry_run(yaml.safe_dump(manifest))
    errors = {check: " ".join(messages) for check, messages in report.checks.items()}
    assert not report.ok
    assert "PIMLAB_EXTERNAL_URL" in errors["capabilities"] and "/healthz" in errors["capabilities"]
    assert "method[0].arguments.users: 500 is outside 0–50" in errors["activities"]
    assert "persona_load_start takes no argument 'host'" in errors["activities"]
    assert (
        "method[0].arguments.duration_seconds: the persona load's 45 s outlast duration_seconds 30"
        in (errors["blast_radius"])
    )
