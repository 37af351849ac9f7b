"""Steady-state probes and the burn-rate page on the real SLO engine (``apps.slo``): traffic through
the middleware's http_server_duration_seconds, sampled by the built-in sampler, evaluated with the
multiwindow burn rates; a run that ends with an SLO at page level raises a page event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.chaos.models import RunStatus
from apps.chaos.runner import run_execute
from apps.slo.models import AlertEvent
from apps.slo.services import SLO_ALERT_NAME, slo_evaluate_all
from tests.slo.conftest import healthz_traffic, ratio_spec, spec_dir  # noqa: F401 - fixtures

from .conftest import approved_run

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

SLO = "drill-availability"


def hypothesis(tolerance) -> dict:
    return {
        "title": "the SLO is not paging",
        "probes": [
            {"name": "alert state", "probe": "slo_alert_state", "arguments": {"slo": SLO}, "tolerance": tolerance}
        ],
    }


def test_slo_probe_and_burn_rate_page_use_the_slo_engine(spec_dir, healthz_traffic):  # noqa: F811
    spec_dir.write(SLO, ratio_spec(SLO, objective=0.999, min_events=20))
    slo_evaluate_all(at=timezone.now() - timedelta(minutes=4))  # loads the spec, takes the baseline sample

    healthz_traffic(good=40)
    calm = run_execute(run=approved_run(key="api/slo-calm", steady_state_hypothesis=hypothesis(["ok"])))
    assert calm.status == RunStatus.COMPLETED, calm.journal
    assert calm.journal["steady_states"]["before"]["probes"][0]["output"] == "ok"
    assert calm.summary["slo"] == {"paging": []}
    assert calm.summary["error_budget_remaining"][SLO] == pytest.approx(1.0)
    assert not AlertEvent.objects.filter(severity="page").exists()

    # A quarter of the requests fail: 250x the 0.1 % budget rate, page level on 1h/5m.
    healthz_traffic(good=30, bad=10)
    burning = run_execute(run=approved_run(key="api/slo-burning", steady_state_hypothesis=hypothesis(["ok"])))
    probe = burning.journal["steady_states"]["before"]["probes"][0]
    assert probe["output"] == "page" and probe["tolerance_met"] is False
    assert burning.status == RunStatus.FAILED
    assert burning.summary["slo"] == {"paging": [SLO]}
    assert burning.summary["error_budget_remaining"][SLO] < 0

    page = AlertEvent.objects.get(name="ChaosBurnRateBreach")
    assert page.severity == "page" and page.status == "firing"
    assert page.labels == {"slo": SLO, "experiment": "api/slo-burning", "shard_id": "shard_1"}
    # The engine recorded its own transition too (what the beat task would have sent).
    assert AlertEvent.objects.filter(name=SLO_ALERT_NAME, severity="page", status="firing").count() == 1


def test_a_probe_naming_an_unknown_slo_fails_the_run_loudly(spec_dir):  # noqa: F811
    run = run_execute(
        run=approved_run(
            steady_state_hypothesis={
                "title": "unknown",
                "probes": [
                    {"name": "x", "probe": "slo_alert_state", "arguments": {"slo": "no-such-slo"}, "tolerance": "ok"}
                ],
            }
        )
    )
    probe = run.journal["steady_states"]["before"]["probes"][0]
    assert probe["status"] == "failed" and probe["tolerance_met"] is False
    assert "SloNotFound" in probe["exception"][0]
    assert run.status == RunStatus.FAILED
