"""Seed "Chaos-Induced Failover": a drill is traced as "Chaos Tooling", and each activity's span is
named after the diagram participant it acts on ("SQL Primary", "SQL Secondary", "SLO Dashboard").

No HA pair runs here, so the SQL activities are run on their own against an empty HA state folder
(they fail fast, and are traced all the same); the failover itself is measured against a real
Patroni pair in tests/chaos/test_failover_drill.py. What this module pins is the trace shape."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from apps.chaos import activities  # noqa: F401 - registers every activity
from apps.chaos.registry import ActivityContext
from apps.chaos.runner import run_activity, run_execute
from apps.telemetry.tracing import span_store
from tests.chaos.conftest import approved_run

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_drill_is_one_chaos_tooling_trace_with_an_slo_dashboard_span():
    call_command("slo_sync")  # the SLO catalog the burn-rate probe reads
    span_store.clear()
    run = approved_run(
        key="api/failover-sequence",
        method=[
            {
                "name": "burn rate",
                "type": "probe",
                "probe": "slo_burn_rate",
                "arguments": {"slo": "booking-availability"},
            },
            {"name": "short pause", "type": "action", "action": "pause", "arguments": {"seconds": 0}},
        ],
    )
    run = run_execute(run=run)
    spans = [s for s in span_store.spans() if s.attributes.get("chaos.run_id") == run.pk]
    root = next(s for s in spans if s.name == "Chaos Tooling" and "chaos.experiment" in s.attributes)
    by_activity = {s.attributes.get("chaos.activity"): s for s in spans if s is not root}
    assert run.journal["run"][0]["status"] == "succeeded", run.journal["run"][0]
    assert by_activity["burn rate"].name == "SLO Dashboard"
    assert by_activity["short pause"].name == "Chaos Tooling"
    for span in (by_activity["burn rate"], by_activity["short pause"]):
        assert span.parent.span_id == root.context.span_id


@pytest.mark.parametrize(
    ("action", "participant"),
    [("ha_pod_kill", "SQL Primary"), ("ha_postmaster_kill", "SQL Primary"), ("ha_rejoin", "SQL Secondary")],
)
def test_sql_activities_are_traced_as_the_sql_participants(settings, tmp_path, action, participant):
    settings.PIMLAB_HA_DIR = str(tmp_path / "no-ha-lab")  # never touch a lab another process runs
    span_store.clear()
    entry = run_activity(ActivityContext(run_id=4242), {"name": action, "type": "action", "action": action})
    assert entry["status"] == "failed"  # no HA pair here
    span = next(s for s in span_store.spans() if s.attributes.get("chaos.run_id") == 4242)
    assert span.name == participant and span.attributes["chaos.status"] == "failed"
