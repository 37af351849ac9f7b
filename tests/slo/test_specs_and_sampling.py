"""Specs as data (shipped specs, validation, sync into the catalog) and the sampler's scrape mode:
several processes' /metrics, counter resets, and time-sliced threshold SLIs."""

from __future__ import annotations

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings

from apps.slo.models import ServiceLevelObjective, SliSample
from apps.slo.promql import GaugeQuery, SelectorError, VectorSelector
from apps.slo.selectors import slo_status
from apps.slo.services import slo_evaluate_all, slo_specs_sync
from apps.slo.specs import SloDefinition, SpecError, ThresholdIndicator, load_spec_directory

from .conftest import EPOCH, STEP, ratio_spec

SHIPPED = Path(settings.BASE_DIR) / "slo" / "specs"


def test_shipped_specs_cover_the_issue():
    names = {d.name: d for d in load_spec_directory(SHIPPED)}
    assert set(names) == {
        "booking-availability",
        "booking-latency",
        "note-update-availability",
        "note-update-latency",
        "claim-submit-availability",
        "claim-projection-staleness",
        "event-publish-latency",
        "audit-write-latency",
        "synthetic-probe-success",
    }
    staleness = names["claim-projection-staleness"]
    assert isinstance(staleness.indicator, ThresholdIndicator)
    assert staleness.indicator.query.selector.metric == "claim_projection_staleness"
    assert all(d.window_days == 30 and d.runbook.startswith("docs/runbooks/") for d in names.values())


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.replace("target: 0.999", "target: 1.5"), "objectives/0/target"),
        (lambda s: s.replace("duration: 30d", "duration: 30 days"), "timeWindow/0/duration"),
        (lambda s: s.replace("name: probe\n", "name: Probe_1\n"), "metadata/name"),
        (lambda s: s.replace("'http_server_duration_seconds_count{route=\"healthz\"}'", "'rate(x[5m])'"), "selector"),
        (lambda s: s.replace("budgetingMethod: Occurrences", "budgetingMethod: Timeslices"), "Occurrences"),
    ],
)
def test_invalid_specs_are_rejected_with_the_reason(tmp_path, edit, message):
    path = tmp_path / "probe.yaml"
    path.write_text(edit(ratio_spec("probe", objective=0.999)))
    with pytest.raises(SpecError, match=message):
        load_spec_directory(tmp_path)


@pytest.mark.django_db(databases="__all__")
def test_sync_creates_updates_disables_and_reports_bad_files(spec_dir):
    spec_dir.write("a", ratio_spec("probe-a", objective=0.99))
    spec_dir.write("b", ratio_spec("probe-b", objective=0.99))
    report = slo_specs_sync()
    assert sorted(report.created) == ["probe-a", "probe-b"] and not report.errors

    spec_dir.write("a", ratio_spec("probe-a", objective=0.995))
    (spec_dir.path / "b.yaml").unlink()
    spec_dir.write("broken", "apiVersion: openslo/v1\nkind: SLO\n: : :\n")
    report = slo_specs_sync()
    assert report.updated == ["probe-a"]
    assert report.disabled == ["probe-b"]
    assert len(report.errors) == 1 and report.errors[0].startswith("broken.yaml")
    assert ServiceLevelObjective.objects.get(name="probe-a").objective == 0.995
    assert not ServiceLevelObjective.objects.get(name="probe-b").enabled
    assert slo_specs_sync().unchanged == ["probe-a"]


def test_selectors_match_like_prometheus():
    selector = VectorSelector.parse(
        'http_server_duration_seconds_count{route=~"api/encounters/<[^>]+>/notes",status!~"5.."}'
    )
    name = "http_server_duration_seconds_count"
    assert selector.matches(name, {"route": "api/encounters/<str:encounter_id>/notes", "status": "200"})
    assert not selector.matches(name, {"route": "api/encounters/<str:encounter_id>/notes", "status": "503"})
    assert not selector.matches(name, {"route": "xapi/encounters/<id>/notes", "status": "200"})  # anchored
    bucket = VectorSelector.parse('x_bucket{le="1"}')
    assert bucket.matches("x_bucket", {"le": "1.0"})  # prometheus_client spells 1 as "1.0"
    assert not bucket.matches("x_bucket", {"le": "10.0"})
    assert bucket.promql() == 'x_bucket{le=~"1|1\\\\.0"}'
    assert GaugeQuery.parse("claim_projection_staleness").aggregation == "max"
    with pytest.raises(SelectorError):
        VectorSelector.parse('x{le="1"')


def test_sloth_scaled_factors_for_a_28_day_window():
    from apps.slo.burn_rates import ALERT_WINDOW_PAIRS

    assert [p.factor(30) for p in ALERT_WINDOW_PAIRS] == [14.4, 6.0, 3.0, 1.0]
    assert [p.factor(28) for p in ALERT_WINDOW_PAIRS] == pytest.approx([13.44, 5.6, 2.8, 0.933333])


class _MetricsEndpoint:
    """A process's /metrics: the text can be changed between scrapes."""

    def __init__(self):
        self.text = ""
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = endpoint.text.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/metrics"

    def set(self, *, ok: float, failed: float, staleness: float | None = None, started: float | None = None) -> None:
        lines = [
            "# TYPE http_server_duration_seconds histogram",
            f'http_server_duration_seconds_count{{route="healthz",method="GET",status="200",persona="a"}} {ok}',
            f'http_server_duration_seconds_count{{route="healthz",method="POST",status="503",persona="a"}} {failed}',
        ]
        if staleness is not None:
            lines += ["# TYPE claim_projection_staleness gauge", f"claim_projection_staleness {staleness}"]
        if started is not None:
            lines += ["# TYPE process_start_time_seconds gauge", f"process_start_time_seconds {started}"]
        self.text = "\n".join(lines) + "\n"

    def close(self):
        if self.server.socket.fileno() != -1:
            self.server.shutdown()
            self.server.server_close()


STALENESS_SPEC = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: staleness}
spec:
  service: projections
  budgetingMethod: Timeslices
  timeWindow: [{duration: 30d, isRolling: true}]
  objectives: [{target: 0.9, op: lte, value: 60, timeSliceWindow: 1m}]
  indicator:
    spec:
      thresholdMetric: {metricSource: {type: Prometheus, spec: {query: 'max(claim_projection_staleness)'}}}
  alerting: {minEventsPerWindow: 0}
"""


@pytest.mark.django_db(databases="__all__")
def test_scraped_processes_with_a_counter_reset_and_a_time_sliced_threshold(spec_dir, settings):
    web_1, web_2 = _MetricsEndpoint(), _MetricsEndpoint()
    try:
        settings.PIMLAB_SLO_SCRAPE_URLS = [web_1.url, web_2.url]
        spec_dir.write("availability", ratio_spec("probe-availability", objective=0.99))
        spec_dir.write("staleness", STALENESS_SPEC)
        web_1.set(ok=1000, failed=10, staleness=5)
        web_2.set(ok=500, failed=0)
        slo_evaluate_all(at=EPOCH)  # baseline: what happened before is not counted

        web_1.set(ok=1090, failed=20, staleness=5)  # +100 requests, 10 failed
        web_2.set(ok=600, failed=0)  # +100 requests
        slo_evaluate_all(at=EPOCH + STEP)
        web_1.set(ok=40, failed=0, staleness=300)  # restarted: 40 requests since; projections stale
        web_2.set(ok=660, failed=0)  # +60
        statuses = {s["name"]: s for s in slo_evaluate_all(at=EPOCH + 2 * STEP)}

        availability = statuses["probe-availability"]
        assert availability["events"] == {"total": 300.0, "bad": 10.0}
        assert availability["window_events"]["5m"] == {"total": 100.0, "bad": 0.0}
        # Three slices (one per round), the last one 300 s stale against a 60 s threshold.
        staleness = statuses["staleness"]
        assert staleness["events"] == {"total": 2.0, "bad": 1.0}  # slices after the first one
        assert staleness["burn_rates"]["5m"] == pytest.approx(1.0 / 0.1)
        assert slo_status("staleness", at=EPOCH + 2 * STEP + timedelta(seconds=1))["alert_state"] == "ticket"
    finally:
        web_1.close()
        web_2.close()


def test_definition_from_document_keeps_the_document():
    import yaml

    document = yaml.safe_load(ratio_spec("probe", objective=0.999))
    definition = SloDefinition.from_document(document)
    assert definition.document == document
    assert len(definition.content_hash) == 64


@pytest.mark.django_db(databases="__all__")
def test_workers_behind_one_url_and_failed_scrapes_are_caught_up(spec_dir, settings):
    web = _MetricsEndpoint()
    try:
        settings.PIMLAB_SLO_SCRAPE_URLS = [web.url]
        spec_dir.write("availability", ratio_spec("probe-availability", objective=0.99))
        # Two workers answer in turn; each keeps its own counters.
        web.set(ok=100, failed=0, started=1000.5)
        slo_evaluate_all(at=EPOCH)
        web.set(ok=100, failed=0, started=1000.5)
        slo_evaluate_all(at=EPOCH + STEP)  # same worker: the baseline
        web.set(ok=30, failed=3, started=1000.75)
        slo_evaluate_all(at=EPOCH + 2 * STEP)  # another worker, first seen: its 33 requests count
        web.set(ok=150, failed=0, started=1000.5)
        statuses = slo_evaluate_all(at=EPOCH + 3 * STEP)  # the first worker again: +50
        (status,) = statuses
        assert status["events"] == {"total": 83.0, "bad": 3.0}

        samples = SliSample.objects.count()
        web.close()
        slo_evaluate_all(at=EPOCH + 4 * STEP)  # nothing answers: no sample, no made-up zero
        assert SliSample.objects.count() == samples
        assert slo_status("probe-availability", at=EPOCH + 4 * STEP)["events"] == {"total": 83.0, "bad": 3.0}
    finally:
        web.close()
