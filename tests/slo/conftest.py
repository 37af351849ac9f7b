"""SLO test fixtures: spec folders written per test, synthetic traffic through real endpoints, and a
replayable clock (samples carry their own timestamps, so hours of windows take no waiting)."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta

import pytest

from apps.slo import sources

# The probe endpoint: GET /healthz answers 200, any other method 405 (require_GET), so the
# ratio of bad events is exactly what the test sends.
HEALTHZ_TOTAL = 'http_server_duration_seconds_count{route="healthz"}'
HEALTHZ_BAD = 'http_server_duration_seconds_count{route="healthz",status=~"4..|5.."}'
EPOCH = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
STEP = timedelta(minutes=5)


def ratio_spec(
    name: str,
    *,
    objective: float,
    min_events: int = 20,
    total: str = HEALTHZ_TOTAL,
    bad: str = HEALTHZ_BAD,
    window_days: int = 30,
) -> str:
    return textwrap.dedent(
        f"""\
        apiVersion: openslo/v1
        kind: SLO
        metadata:
          name: {name}
          displayName: {name} (test)
        spec:
          service: probes
          budgetingMethod: Occurrences
          timeWindow:
            - duration: {window_days}d
              isRolling: true
          objectives:
            - target: {objective}
          indicator:
            spec:
              ratioMetric:
                counter: true
                bad:
                  metricSource: {{type: Prometheus, spec: {{query: '{bad}'}}}}
                total:
                  metricSource: {{type: Prometheus, spec: {{query: '{total}'}}}}
          alerting:
            minEventsPerWindow: {min_events}
            runbook: docs/runbooks/test.md
        """
    )


@pytest.fixture
def spec_dir(tmp_path, settings):
    """An empty specs folder the engine reads instead of slo/specs; write specs with ``.write``."""
    folder = tmp_path / "specs"
    folder.mkdir()
    settings.PIMLAB_SLO_SPECS_DIR = folder
    settings.PIMLAB_PROMETHEUS_URL = ""
    settings.PIMLAB_SLO_SCRAPE_URLS = []
    settings.PIMLAB_ALERT_WEBHOOK_URL = ""
    sources._definitions.clear()

    class Folder:
        path = folder

        @staticmethod
        def write(name: str, text: str) -> None:
            (folder / f"{name}.yaml").write_text(text, encoding="utf-8")

    return Folder


@pytest.fixture
def healthz_traffic(client):
    """Send ``good`` GETs (200) and ``bad`` POSTs (405) to /healthz through the full middleware stack."""

    def send(*, good: int = 0, bad: int = 0) -> None:
        for _ in range(good):
            assert client.get("/healthz").status_code == 200
        for _ in range(bad):
            assert client.post("/healthz").status_code == 405

    return send


@pytest.fixture
def alert_delivery_in_process():
    """Run the delivery task (``slo.alert_event_deliver``) in this process when it is enqueued, so
    a test can look at the receiver right after the commit. ``test_webhook_worker`` covers the
    same path with a real worker process."""
    import apps.slo.tasks  # noqa: F401 (registers the task, as a worker's autodiscovery does)
    from pimlab_portal.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous
