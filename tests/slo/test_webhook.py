"""Alert transitions reach a real local HTTP receiver in Alertmanager's webhook format."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.slo.models import AlertEvent
from apps.slo.services import alert_event_record, alert_events_deliver_pending, slo_evaluate_all

from .conftest import EPOCH, STEP, ratio_spec

pytestmark = pytest.mark.django_db(databases="__all__")


class _Receiver:
    def __init__(self, *, status: int = 200):
        self.bodies: list[dict] = []
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                receiver.bodies.append(
                    {"content_type": self.headers["Content-Type"], "body": json.loads(self.rfile.read(length))}
                )
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = _Receiver()
    yield server
    server.close()


def rto_breach_alert_record() -> AlertEvent:
    return alert_event_record(
        name="ChaosRtoBreached",
        severity="critical",
        status="firing",
        labels={"experiment": "failover", "shard_id": "shard_0"},
        annotations={"summary": "RTO 31 s over the 25 s target"},
    )


def _assert_alertmanager_shape(payload: dict) -> dict:
    assert payload["version"] == "4"
    assert set(payload) >= {
        "version",
        "groupKey",
        "status",
        "receiver",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
    }
    assert payload["receiver"] == "pimlab-webhook"
    assert payload["externalURL"].startswith("http")
    (alert,) = payload["alerts"]
    assert set(alert) >= {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}
    assert all(isinstance(v, str) for v in alert["labels"].values())
    assert all(isinstance(v, str) for v in alert["annotations"].values())
    assert len(alert["fingerprint"]) == 16
    return alert


def test_page_and_resolution_are_posted_in_alertmanager_format(
    spec_dir, healthz_traffic, receiver, settings, django_capture_on_commit_callbacks, alert_delivery_in_process
):
    settings.PIMLAB_ALERT_WEBHOOK_URL = receiver.url
    spec_dir.write("probe-availability", ratio_spec("probe-availability", objective=0.999, min_events=0))
    slo_evaluate_all(at=EPOCH)
    healthz_traffic(good=90, bad=10)
    with django_capture_on_commit_callbacks(execute=True):
        slo_evaluate_all(at=EPOCH + STEP)

    pages = [r for r in receiver.bodies if r["body"]["commonLabels"]["severity"] == "page"]
    assert len(pages) == 1
    assert pages[0]["content_type"] == "application/json"
    payload = pages[0]["body"]
    alert = _assert_alertmanager_shape(payload)
    assert payload["status"] == "firing"
    assert payload["groupKey"] == '{}:{alertname="SLOErrorBudgetBurn", slo="probe-availability", severity="page"}'
    assert payload["groupLabels"] == {
        "alertname": "SLOErrorBudgetBurn",
        "slo": "probe-availability",
        "severity": "page",
    }
    assert alert["labels"] == {
        "alertname": "SLOErrorBudgetBurn",
        "slo": "probe-availability",
        "service": "probes",
        "severity": "page",
    }
    assert alert["startsAt"] == "2026-03-02T00:05:00Z"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert json.loads(alert["annotations"]["burn_rates"])["5m"] == pytest.approx(100.0)
    assert alert["annotations"]["runbook_url"] == "docs/runbooks/test.md"
    assert AlertEvent.objects.filter(delivered_at__isnull=True).count() == 0

    # Clean traffic for a long while: everything resolves, and the resolution carries its start.
    receiver.bodies.clear()
    healthz_traffic(good=200)
    with django_capture_on_commit_callbacks(execute=True):
        slo_evaluate_all(at=EPOCH + STEP + timedelta(days=1))
    resolved = next(r["body"] for r in receiver.bodies if r["body"]["commonLabels"]["severity"] == "page")
    alert = _assert_alertmanager_shape(resolved)
    assert resolved["status"] == "resolved"
    assert alert["startsAt"] == "2026-03-02T00:05:00Z"
    assert alert["endsAt"] == "2026-03-03T00:05:00Z"
    assert alert["fingerprint"] == _assert_alertmanager_shape(payload)["fingerprint"]


def test_an_unreachable_receiver_is_retried_later(
    settings, django_capture_on_commit_callbacks, alert_delivery_in_process
):
    down = _Receiver()
    url = down.url
    down.close()  # nothing listens on that port now
    settings.PIMLAB_ALERT_WEBHOOK_URL = url
    with django_capture_on_commit_callbacks(execute=True):
        event = rto_breach_alert_record()
    event.refresh_from_db()
    assert event.delivered_at is None
    assert event.delivery_error

    up = _Receiver()
    try:
        settings.PIMLAB_ALERT_WEBHOOK_URL = up.url
        assert alert_events_deliver_pending() == 1
        (received,) = up.bodies
        alert = _assert_alertmanager_shape(received["body"])
        assert alert["labels"]["alertname"] == "ChaosRtoBreached"
        assert alert["labels"]["severity"] == "critical"
        event.refresh_from_db()
        assert event.delivered_at is not None and event.delivery_error == ""
        assert alert_events_deliver_pending() == 0  # delivered once only
    finally:
        up.close()
