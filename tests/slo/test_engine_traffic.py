"""Synthetic traffic through /healthz (GET 200, POST 405) sampled by the built-in sampler on a
replayed clock, with hand-computed error budgets, burn rates and alerts."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from apps.slo import selectors
from apps.slo.models import AlertEvent, ServiceLevelObjective, SliSample
from apps.slo.services import slo_evaluate_all

from .conftest import EPOCH, STEP, ratio_spec

pytestmark = pytest.mark.django_db(databases="__all__")


def _status(statuses: list[dict], name: str) -> dict:
    return next(s for s in statuses if s["name"] == name)


def test_budget_remaining_after_a_known_number_of_bad_events(spec_dir, healthz_traffic):
    spec_dir.write("probe-budget", ratio_spec("probe-budget", objective=0.99))
    slo_evaluate_all(at=EPOCH)  # loads the spec and takes the baseline sample
    healthz_traffic(good=399, bad=1)
    status = _status(slo_evaluate_all(at=EPOCH + timedelta(minutes=10)), "probe-budget")

    # 1 bad in 400 = 0.25 % errors against a 1 % budget: a quarter of the budget is spent.
    assert status["events"] == {"total": 400.0, "bad": 1.0}
    assert status["attainment"] == pytest.approx(0.9975)
    assert status["error_budget_remaining_ratio"] == pytest.approx(0.75)
    # 30 days x 1440 min x 1 % = 432 budget minutes; three quarters left.
    assert status["error_budget_remaining_minutes"] == pytest.approx(324.0)
    assert status["burn_rates"]["5m"] == pytest.approx(0.25)
    assert status["alert_state"] == "ok"

    healthz_traffic(bad=3)
    status = _status(slo_evaluate_all(at=EPOCH + timedelta(minutes=15)), "probe-budget")
    assert status["events"] == {"total": 403.0, "bad": 4.0}
    assert status["error_budget_remaining_ratio"] == pytest.approx(1 - (4 / 403) / 0.01)
    # Only the last interval (3 bad of 3) is in the 5-minute window: burn 100 %/1 % = 100.
    assert status["burn_rates"]["5m"] == pytest.approx(100.0)

    # The window rolls: 31 days later none of those events count any more.
    later = selectors.slo_status("probe-budget", at=EPOCH + timedelta(days=31))
    assert later["events"] == {"total": 0.0, "bad": 0.0}
    assert later["error_budget_remaining_ratio"] == pytest.approx(1.0)


def _replay(healthz_traffic, intervals, *, start_index: int) -> tuple[int, list[dict]]:
    """Send each interval's (good, bad) traffic, then evaluate 5 minutes later; returns the last statuses."""
    index, statuses = start_index, []
    for good, bad in intervals:
        healthz_traffic(good=good, bad=bad)
        index += 1
        statuses = slo_evaluate_all(at=EPOCH + index * STEP)
    return index, statuses


def test_a_one_percent_burst_fires_nothing_and_a_ten_percent_burst_pages(spec_dir, healthz_traffic):
    spec_dir.write("probe-availability", ratio_spec("probe-availability", objective=0.999, min_events=20))
    slo_evaluate_all(at=EPOCH)
    # Six hours of clean traffic, 14 requests per 5 minutes.
    index, _ = _replay(healthz_traffic, [(14, 0)] * 72, start_index=0)

    # 1 % errors for 5 minutes (1 of 100).
    index, statuses = _replay(healthz_traffic, [(99, 1)], start_index=index)
    status = _status(statuses, "probe-availability")
    burn = status["burn_rates"]
    assert burn["5m"] == pytest.approx(10.0)  # 1 % / 0.1 %: below 14.4
    assert burn["1h"] == pytest.approx((1 / (11 * 14 + 100)) / 0.001)  # 3.94
    assert burn["30m"] == pytest.approx((1 / (5 * 14 + 100)) / 0.001)  # 5.88: below 6
    assert burn["6h"] == pytest.approx((1 / (71 * 14 + 100)) / 0.001)  # 0.91: below 1
    assert burn["3d"] == pytest.approx((1 / (72 * 14 + 100)) / 0.001)
    assert status["alert_state"] == "ok"
    assert not AlertEvent.objects.exists()

    # 10 % errors (10 of 100 per 5 minutes): the first 5 minutes already page through 1h/5m.
    index, statuses = _replay(healthz_traffic, [(90, 10)], start_index=index)
    status = _status(statuses, "probe-availability")
    assert status["burn_rates"]["5m"] == pytest.approx(100.0)
    assert status["burn_rates"]["1h"] == pytest.approx((11 / (10 * 14 + 200)) / 0.001)  # 32.4 > 14.4
    fast_page = next(p for p in status["alert_windows"] if (p["long_window"], p["short_window"]) == ("1h", "5m"))
    assert fast_page["firing"] is True
    assert fast_page["factor"] == pytest.approx(14.4)
    assert status["alert_state"] == "page"

    page = AlertEvent.objects.get(severity="page", status="firing")
    assert page.labels == {
        "alertname": "SLOErrorBudgetBurn",
        "slo": "probe-availability",
        "service": "probes",
        "severity": "page",
    }
    assert page.occurred_at == EPOCH + index * STEP
    recorded = json.loads(page.annotations["burn_rates"])
    assert recorded["5m"] == pytest.approx(100.0)
    assert recorded["1h"] == pytest.approx(32.352941, rel=1e-6)
    assert AlertEvent.objects.filter(severity="ticket", status="firing").count() == 1
    assert ServiceLevelObjective.objects.get(name="probe-availability").alert_state == "page"

    # Two more bursting intervals keep paging without recording the page again.
    index, _ = _replay(healthz_traffic, [(90, 10)] * 2, start_index=index)
    assert AlertEvent.objects.filter(severity="page").count() == 1

    # Clean again: the 6h/30m pair holds the page until the 30-minute window is clean (6 steps).
    index, statuses = _replay(healthz_traffic, [(14, 0)] * 5, start_index=index)
    assert _status(statuses, "probe-availability")["alert_state"] == "page"
    index, statuses = _replay(healthz_traffic, [(14, 0)], start_index=index)
    status = _status(statuses, "probe-availability")
    assert status["burn_rates"]["30m"] == 0.0
    assert status["alert_state"] == "ticket"  # 2 h and 1 d still burn faster than 3x
    resolved = AlertEvent.objects.get(severity="page", status="resolved")
    assert resolved.occurred_at == EPOCH + index * STEP
    assert json.loads(resolved.annotations["burn_rates"])["30m"] == 0.0


def test_low_traffic_does_not_page_on_a_handful_of_errors(spec_dir, healthz_traffic):
    spec_dir.write("probe-guarded", ratio_spec("probe-guarded", objective=0.999, min_events=20))
    spec_dir.write("probe-unguarded", ratio_spec("probe-unguarded", objective=0.999, min_events=0))
    slo_evaluate_all(at=EPOCH)
    healthz_traffic(good=4, bad=1)  # 20 % errors, but only 5 requests
    statuses = slo_evaluate_all(at=EPOCH + STEP)

    guarded, unguarded = _status(statuses, "probe-guarded"), _status(statuses, "probe-unguarded")
    assert guarded["burn_rates"]["5m"] == pytest.approx(200.0)
    assert guarded["alert_state"] == "ok"
    assert unguarded["alert_state"] == "page"
    assert not AlertEvent.objects.filter(labels__slo="probe-guarded").exists()

    healthz_traffic(good=16, bad=4)  # 20 requests in the next 5 minutes: past the guard
    statuses = slo_evaluate_all(at=EPOCH + 2 * STEP)
    assert _status(statuses, "probe-guarded")["alert_state"] == "page"
    assert AlertEvent.objects.filter(labels__slo="probe-guarded", severity="page", status="firing").count() == 1


def test_samples_are_written_by_the_evaluation_round_not_by_requests(spec_dir, healthz_traffic):
    spec_dir.write("probe-budget", ratio_spec("probe-budget", objective=0.99))
    slo_evaluate_all(at=EPOCH)
    assert SliSample.objects.count() == 1
    healthz_traffic(good=50, bad=5)
    assert SliSample.objects.count() == 1  # no database write per request
    slo_evaluate_all(at=EPOCH + STEP)
    sample = SliSample.objects.order_by("-taken_at").first()
    assert (sample.total_events, sample.bad_events) == (55.0, 5.0)
