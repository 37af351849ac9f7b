"""The built-in sampler and the Prometheus-backed reader agree on the same counters.

A real Prometheus (Debian's package) scrapes the live test server every second; the test sends
traffic to /healthz between two quiet periods and compares both sources over the same interval:
between the last scrape before the traffic and the first one after it.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from apps.slo.engine import slo_evaluation_compute
from apps.slo.models import AlertEvent, ServiceLevelObjective, SliSample
from apps.slo.prometheus_reader import PrometheusEventSource
from apps.slo.sampler import SampledEventSource
from apps.slo.selectors import slo_budget_burndown, slo_series, slo_window_series
from apps.slo.services import sli_samples_record, slo_evaluate_all, slo_specs_sync
from apps.slo.sources import definition_of
from tests.support.processes import process_stop

from .conftest import ratio_spec

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def _free_loopback_port() -> int:
    for _ in range(200):
        port = random.randint(20000, 32767)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port below 32768")


def _wait_for(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture
def prometheus(live_server, tmp_path):
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: run scripts/ensure_services.sh (installs Debian's prometheus package)"
    port = _free_loopback_port()
    target = live_server.url.removeprefix("http://")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        # The scrape timeout is the interval: 3 s leaves a loaded machine time to answer /metrics.
        "global:\n  scrape_interval: 3s\n  scrape_timeout: 3s\n  evaluation_interval: 3s\n"
        "scrape_configs:\n  - job_name: pimlab\n    metrics_path: /metrics\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    log = (tmp_path / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def ready():
            assert process.poll() is None, (tmp_path / "prometheus.log").read_text()
            try:
                return requests.get(f"{url}/-/ready", timeout=1).status_code == 200
            except requests.ConnectionError:
                return False

        _wait_for(ready, timeout=30, what="Prometheus to be ready")
        yield url
    finally:
        process_stop(process, timeout=15)
        log.close()


def _scrape_times(url: str) -> list[float]:
    """Timestamps of the scrapes of the last minute (every series of one scrape shares them)."""
    body = requests.get(f"{url}/api/v1/query", params={"query": 'up{job="pimlab"}[1m]'}, timeout=5).json()
    result = body["data"]["result"]
    return [float(ts) for ts, value in result[0]["values"] if value == "1"] if result else []


def _last_scrape_error(url: str) -> str:
    targets = requests.get(f"{url}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
    return "; ".join(f"{t['scrapeUrl']}: {t['health']} {t['lastError']!r}" for t in targets)


def _scrape_after(url: str, moment: float) -> float:
    try:
        return _wait_for(lambda: next((t for t in _scrape_times(url) if t > moment), None), timeout=90, what="a scrape")
    except AssertionError as gave_up:
        raise AssertionError(f"{gave_up} (last scrape: {_last_scrape_error(url)})") from None


class _OverInterval:
    """Reads every window as one fixed interval, so both sources are compared over the same span."""

    def __init__(self, source, *, window: timedelta, at: datetime):
        self.source, self.window, self.at, self.kind = source, window, at, source.kind

    def counts(self, definition, *, window, at):
        return self.source.counts(definition, window=self.window, at=self.at)


def test_sampler_and_prometheus_reader_give_the_same_figures(prometheus, live_server, spec_dir, settings):
    spec_dir.write("probe-availability", ratio_spec("probe-availability", objective=0.999, min_events=0))
    slo_specs_sync()
    definition = definition_of(ServiceLevelObjective.objects.get())
    http = requests.Session()

    # Warm up so that both series (200 and 405) exist before the measured interval, then go quiet.
    for _ in range(3):
        assert http.get(f"{live_server.url}/healthz").status_code == 200
        assert http.head(f"{live_server.url}/healthz").status_code == 405
    quiet_from = time.time()
    _scrape_after(prometheus, quiet_from)
    sli_samples_record(at=datetime.now(UTC))

    traffic_from = time.time()
    for _ in range(40):
        assert http.get(f"{live_server.url}/healthz").status_code == 200
    for _ in range(10):
        assert http.head(f"{live_server.url}/healthz").status_code == 405
    traffic_to = time.time()
    sli_samples_record(at=datetime.now(UTC))
    after = _scrape_after(prometheus, traffic_to)

    before = max(t for t in _scrape_times(prometheus) if quiet_from < t < traffic_from)
    prometheus_source = PrometheusEventSource(prometheus)
    aligned_prometheus = _OverInterval(
        prometheus_source,
        window=timedelta(seconds=after - before + 0.001),
        at=datetime.fromtimestamp(after, UTC),
    )
    first, last = SliSample.objects.order_by("taken_at")
    aligned_sampler = _OverInterval(SampledEventSource(), window=last.taken_at - first.taken_at, at=last.taken_at)

    from_sampler = aligned_sampler.counts(definition, window=None, at=None)
    from_prometheus = aligned_prometheus.counts(definition, window=None, at=None)
    assert (from_sampler.total, from_sampler.bad) == (50.0, 10.0)
    assert from_prometheus.total == pytest.approx(50.0, rel=1e-3)
    assert from_prometheus.bad == pytest.approx(10.0, rel=1e-3)
    assert from_prometheus.error_ratio == pytest.approx(from_sampler.error_ratio, rel=1e-9)

    sampled = slo_evaluation_compute(definition, source=aligned_sampler, at=last.taken_at).as_status()
    queried = slo_evaluation_compute(
        definition, source=aligned_prometheus, at=datetime.fromtimestamp(after, UTC)
    ).as_status()
    assert queried["source"] == "prometheus" and sampled["source"] == "sampler"
    for figure in ("attainment", "error_budget_remaining_ratio", "error_budget_remaining_minutes"):
        assert queried[figure] == pytest.approx(sampled[figure], rel=1e-6), figure
    assert queried["burn_rates"] == pytest.approx(sampled["burn_rates"], rel=1e-6)
    assert sampled["burn_rates"]["5m"] == pytest.approx(200.0)  # 20 % errors / 0.1 % budget
    assert queried["alert_state"] == sampled["alert_state"] == "page"

    # The production path: with PIMLAB_PROMETHEUS_URL set, a round reads Prometheus and samples nothing.
    settings.PIMLAB_PROMETHEUS_URL = prometheus
    samples_before = SliSample.objects.count()
    (status,) = slo_evaluate_all()
    assert status["source"] == "prometheus"
    assert status["window_events"]["1h"]["bad"] >= 10
    assert status["alert_state"] == "page"
    assert SliSample.objects.count() == samples_before

    # Series for plotting come from range queries; the last point agrees with the instant figures.
    now = datetime.fromtimestamp(after, UTC)
    series = slo_series(
        "probe-availability",
        start=now - timedelta(minutes=2),
        end=now,
        step=timedelta(seconds=30),
        source=prometheus_source,
    )
    assert len(series["points"]) == 5
    last_instant = slo_evaluation_compute(definition, source=prometheus_source, at=now).as_status()
    assert series["points"][-1]["burn_rates"] == pytest.approx(last_instant["burn_rates"], rel=1e-9)
    assert series["points"][-1]["alert_state"] == "page"
    assert series["points"][0]["burn_rates"]["5m"] < series["points"][-1]["burn_rates"]["5m"]
    assert AlertEvent.objects.filter(labels__slo="probe-availability", severity="page", status="firing").exists()

    # The console's SLO page series from the same range queries: the burn-rate windows agree with
    # slo_series, and the burn-down adds up the events of consecutive steps from its start.
    windows = slo_window_series(
        "probe-availability",
        start=now - timedelta(minutes=2),
        end=now,
        step=timedelta(seconds=30),
        source=prometheus_source,
    )
    assert [p["burn_rates"] for p in windows["points"]] == [p["burn_rates"] for p in series["points"]]
    burndown = slo_budget_burndown(
        "probe-availability",
        start=now - timedelta(minutes=2),
        end=now,
        step=timedelta(seconds=30),
        source=prometheus_source,
    )
    assert burndown["points"][0]["error_budget_remaining_ratio"] == 1.0
    # The 10 failed requests, and the 3 of the warm-up when it fell within the two minutes.
    assert 9.0 <= burndown["points"][-1]["events"]["bad"] <= 13.5
    assert burndown["points"][-1]["error_budget_remaining_ratio"] < 0  # 20 % errors against a 0.1 % budget
