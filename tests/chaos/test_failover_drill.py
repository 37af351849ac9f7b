"""The failover drill end to end on a real Patroni pair: pod kill under load, RTO, RPO, rejoin."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest

from apps.chaos import ha_lab
from apps.chaos.models import RunStatus
from apps.chaos.runner import run_execute
from apps.chaos.services import experiment_submit, revision_approve, revision_dry_run, run_launch
from apps.slo.models import AlertEvent, TimelineAnnotation

from .conftest import manifest_text

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.slow]


def test_pod_kill_failover_drill_meets_rto_loses_no_acknowledged_write_and_rejoins(ha_pair, sre_author, sre_approver):
    revision = experiment_submit(
        key="sql-failover-pod-kill.yaml",
        manifest_text=manifest_text("sql-failover-pod-kill.yaml", owner="sre-author"),
        author="sre-author",
    )
    report = revision_dry_run(revision=revision)
    assert report["ok"], report
    revision_approve(revision=revision, approver="sre-approver")
    revision.refresh_from_db()
    old_leader = ha_lab.cluster_leader(ha_pair)

    run = run_execute(run=run_launch(revision=revision, launched_by="sre-approver"))

    summary, journal = run.summary, run.journal
    assert run.status == RunStatus.COMPLETED, (journal.get("run"), journal.get("rollbacks"))
    assert summary["old_leader"] == old_leader and summary["new_leader"] != old_leader
    assert 0 < summary["rto_seconds"] <= summary["rto_target_seconds"] == 25
    assert summary["workload_acknowledged"] > 0
    assert summary["rpo_acknowledged_writes_lost"] == 0
    assert summary["rejoined"]["node"] == old_leader  # the old leader streams again as sync standby
    assert ha_lab.sync_standby(ha_pair) == old_leader
    assert 0 <= summary["error_ratio"] <= 1

    # Journal complete: every step and rollback with start/end/output, steady state before/during/after.
    assert [e["activity"]["name"] for e in journal["run"]] == [a["name"] for a in revision.manifest["method"]]
    assert all(e["status"] == "succeeded" and e["start"] and e["end"] for e in journal["run"] + journal["rollbacks"])
    assert journal["steady_states"]["before"]["steady_state_met"]
    assert journal["steady_states"]["after"]["steady_state_met"]
    assert len(journal["steady_states"]["during"]) == 1
    assert journal["status"] == "completed" and journal["deviated"] is False

    phases = {tag for a in TimelineAnnotation.objects.filter(reference=str(run.pk)) for tag in a.tags}
    assert {"start", "injection", "recovery", "end"} <= phases
    assert not AlertEvent.objects.filter(name="SQLFailoverRTOExceeded").exists()

    exported = generate_latest().decode()
    assert 'sql_failover_duration_seconds{fault="pod_kill",shard_id="ha"}' in exported
    assert "api_error_ratio{" in exported
    assert 'chaos_experiment_active{experiment="sql-failover-pod-kill.yaml",shard_id="pimlab-ha"} 0.0' in exported
