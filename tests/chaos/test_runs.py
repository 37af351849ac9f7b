"""Run execution: abort mid-drill and the kill switch run the rollbacks; failures are reported as failures."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections

from apps.chaos import services
from apps.chaos.models import ExperimentRun, RunStatus
from apps.chaos.runner import run_execute
from apps.core.models import PersonaRole
from tests.factories import persona_user
from tests.support.api import api_client

from .conftest import approved_run

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

LONG_METHOD = [
    {"name": "inject", "type": "action", "action": "pause", "arguments": {"seconds": 0.1}, "injection": True},
    {"name": "hold the fault", "type": "action", "action": "pause", "arguments": {"seconds": 60}},
    {"name": "never reached", "type": "action", "action": "pause", "arguments": {"seconds": 0}},
]
ROLLBACKS = [
    {"name": "first rollback", "type": "action", "action": "pause", "arguments": {"seconds": 0}},
    {"name": "second rollback", "type": "action", "action": "pause", "arguments": {"seconds": 0}},
]


def execute_in_background(run: ExperimentRun) -> threading.Thread:
    def target():
        try:
            run_execute(run=ExperimentRun.objects.get(pk=run.pk))
        finally:
            connections.close_all()

    thread = threading.Thread(target=target)
    thread.start()
    return thread


def wait_until_step(run: ExperimentRun, name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if any(e["activity"]["name"] == name for e in (run.journal or {}).get("run", [])):
            return
        time.sleep(0.1)
    raise AssertionError(f"the run never finished step {name!r}")


def test_abort_through_the_api_mid_drill_runs_every_rollback():
    _, token = persona_user(PersonaRole.SRE, username="sre-oncall")
    client = api_client(token)
    run = approved_run(method=LONG_METHOD, rollbacks=ROLLBACKS)
    thread = execute_in_background(run)
    wait_until_step(run, "inject")

    response = client.post(f"/api/chaos/runs/{run.pk}/abort", {"reason": "patients report errors"})
    assert response.status_code == 202
    thread.join(timeout=30)
    assert not thread.is_alive()

    run.refresh_from_db()
    assert run.status == RunStatus.ABORTED and run.outcome == "aborted"
    assert run.abort_reason == "patients report errors"
    steps = [e["activity"]["name"] for e in run.journal["run"]]
    assert "never reached" not in steps
    assert [e["activity"]["name"] for e in run.journal["rollbacks"]] == ["first rollback", "second rollback"]
    assert all(e["status"] == "succeeded" for e in run.journal["rollbacks"])
    assert run.summary["rollbacks"] == "succeeded"
    assert client.post(f"/api/chaos/runs/{run.pk}/abort").status_code == 409  # no longer running


def test_kill_switch_aborts_the_running_drill_and_its_rollbacks_run():
    run = approved_run(method=LONG_METHOD, rollbacks=ROLLBACKS)
    thread = execute_in_background(run)
    wait_until_step(run, "inject")
    services.kill_switch_set(engaged=True, changed_by="sre-lead", reason="real incident")
    thread.join(timeout=30)
    run.refresh_from_db()
    assert run.status == RunStatus.ABORTED
    assert "kill switch" in run.abort_reason
    assert len(run.journal["rollbacks"]) == 2


def test_failed_step_runs_rollbacks_and_a_failed_rollback_fails_the_run():
    run = approved_run(
        method=[{"name": "break", "type": "action", "action": "fail", "arguments": {"message": "boom"}}],
        rollbacks=[
            {"name": "rollback that fails", "type": "action", "action": "fail", "arguments": {"message": "stuck"}},
            {"name": "rollback after it", "type": "action", "action": "pause", "arguments": {"seconds": 0}},
        ],
    )
    run = run_execute(run=run)
    assert run.status == RunStatus.FAILED
    assert run.journal["run"][0]["status"] == "failed" and "boom" in run.journal["run"][0]["exception"][0]
    assert [e["status"] for e in run.journal["rollbacks"]] == ["failed", "succeeded"]
    assert run.summary["rollbacks"] == "failed"


def test_a_run_is_traced_as_chaos_tooling_with_one_span_per_activity():
    from apps.telemetry.tracing import span_store

    span_store.clear()
    run = run_execute(run=approved_run())
    spans = [s for s in span_store.spans() if s.attributes.get("chaos.run_id") == run.pk]
    root = next(s for s in spans if s.name == "Chaos Tooling" and "chaos.experiment" in s.attributes)
    assert root.attributes["shard_id"] == "shard_1" and root.attributes["user_id"] == "sre-approver"
    children = {
        s.attributes.get("chaos.activity") for s in spans if s.parent and s.parent.span_id == root.context.span_id
    }
    assert {"constant", "short pause", "rollback pause"} <= children


def test_a_finished_run_leaves_no_correlation_behind():
    """The worker's next task must not log or trace under the run's ids."""
    import structlog

    from apps.telemetry import context

    structlog.contextvars.bind_contextvars(request_id="before-the-run")
    run_execute(run=approved_run())
    assert structlog.contextvars.get_contextvars() == {"request_id": "before-the-run"}
    assert context.current_trace_id() is None


def test_failed_rollback_alone_marks_a_completed_method_failed():
    run = approved_run(rollbacks=[{"name": "rollback that fails", "type": "action", "action": "fail", "arguments": {}}])
    run = run_execute(run=run)
    assert all(e["status"] == "succeeded" for e in run.journal["run"])
    assert run.status == RunStatus.FAILED and run.summary["rollbacks"] == "failed"


def test_hypothesis_not_met_after_the_method_marks_the_run_deviated():
    run = approved_run(
        steady_state_hypothesis={
            "title": "flag stays up",
            "probes": [
                {
                    "name": "flag",
                    "probe": "shard_latency_injected",
                    "arguments": {"shard": "shard_1", "table": "patients_patient"},
                    "tolerance": False,
                }
            ],
        },
        method=[
            {
                "name": "inject",
                "type": "action",
                "action": "shard_latency_inject",
                "arguments": {"shard": "shard_1", "table": "patients_patient", "delay_ms": 1},
                "injection": True,
            }
        ],
        rollbacks=[
            {
                "name": "remove",
                "type": "action",
                "action": "shard_latency_remove",
                "arguments": {"shard": "shard_1", "table": "patients_patient"},
            }
        ],
    )
    run = run_execute(run=run)
    assert run.journal["steady_states"]["before"]["steady_state_met"] is True
    assert run.journal["steady_states"]["during"][0]["steady_state_met"] is False
    assert run.journal["steady_states"]["after"]["steady_state_met"] is False
    assert run.status == RunStatus.FAILED and run.deviated is True
    # …and the rollback removed the fault.
    with connections["shard_1"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgname = 'pimlab_chaos_latency'")
        assert cursor.fetchone()[0] == 0


def test_kill_switch_state_is_readable_and_settable_through_the_api():
    _, token = persona_user(PersonaRole.SRE, username="sre-lead")
    client = api_client(token)
    assert client.get("/api/chaos/kill-switch").json()["engaged"] is False
    assert client.post("/api/chaos/kill-switch", {"engaged": True, "reason": "incident"}).status_code == 200
    assert client.get("/api/chaos/kill-switch").json() == {
        "engaged": True,
        "reason": "incident",
        "changed_by": "sre-lead",
    }


def test_abort_condition_on_the_error_ratio_stops_the_run(tmp_path):
    """A workload whose attempts mostly fail trips max_error_ratio at the next activity boundary."""
    from apps.chaos.registry import action

    attempts = tmp_path / "attempts.jsonl"
    attempts.write_text(
        "".join(
            f'{{"start": {i}, "end": {i}.1, "ok": {"true" if i % 4 == 0 else "false"}, "id": "{i}"}}\n'
            for i in range(20)
        )
    )

    @action("test_attach_workload_log")
    def attach(ctx, path: str):
        ctx.state["workload"] = {"out": path, "pid": None, "stop_file": str(tmp_path / "stop"), "kind": "orm"}
        return {"attached": path}

    run = run_execute(
        run=approved_run(
            abort_conditions={"max_error_ratio": 0.5},
            method=[
                {
                    "name": "attach",
                    "type": "action",
                    "action": "test_attach_workload_log",
                    "arguments": {"path": str(attempts)},
                },
                {"name": "never reached", "type": "action", "action": "pause", "arguments": {"seconds": 0}},
            ],
            rollbacks=ROLLBACKS,
        )
    )
    assert run.status == RunStatus.ABORTED
    assert "error ratio 0.75 above the abort condition 0.5" in run.abort_reason
    assert [e["activity"]["name"] for e in run.journal["run"]] == ["attach"]
    assert len(run.journal["rollbacks"]) == 2


def test_a_launched_run_no_worker_takes_is_ended_and_stops_blocking_launches(settings):
    from datetime import timedelta

    from django.utils import timezone

    from apps.chaos.runner import runs_reap_lost

    run = approved_run(key="api/never-taken")  # launched, never executed: no heartbeat
    settings.PIMLAB_CHAOS_PICKUP_TIMEOUT_SECONDS = 60
    assert runs_reap_lost() == [] and ExperimentRun.objects.get(pk=run.pk).status == RunStatus.RUNNING
    ExperimentRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(seconds=61))
    runs_reap_lost()
    run.refresh_from_db()
    assert run.status == RunStatus.ABORTED and run.outcome == "aborted (never started)"
    # The conflict check no longer sees it: the same experiment launches again.
    assert services.run_launch(revision=run.revision, launched_by="sre-approver", enqueue=False).status == "running"


def test_a_worker_that_was_reaped_stops_and_keeps_the_reapers_outcome():
    """Heartbeats lost while the worker still lives (a catalog blip): the reaper's outcome stands and the
    worker stops at its next abort check instead of overwriting it."""
    run = approved_run(key="api/reaped-alive", method=LONG_METHOD, rollbacks=ROLLBACKS)
    thread = execute_in_background(run)
    wait_until_step(run, "inject")
    ExperimentRun.objects.filter(pk=run.pk).update(status=RunStatus.ABORTED, outcome="aborted (worker lost)")
    thread.join(timeout=30)
    assert not thread.is_alive()
    run.refresh_from_db()
    assert run.status == RunStatus.ABORTED and run.outcome == "aborted (worker lost)"
    assert run.journal["worker"]["status"] == "aborted"  # the worker's own journal, kept beside
