"""Alertmanager's webhook lands in the lab's alert log (the store the SRE console reads), with the
runbook link, once per transition, behind the shared receiver token."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.slo.models import AlertEvent, AlertStatus
from apps.slo.receiver import alert_receiver_token_ensure

pytestmark = pytest.mark.django_db(databases="__all__")
URL = "/api/alerts/alertmanager"


def notification(status: str = "firing", **alert_overrides) -> dict:
    alert = {
        "status": status,
        "labels": {"alertname": "OutboxDeadLetterStorm", "severity": "page", "shard_id": "shard_0"},
        "annotations": {
            "summary": "12 outbox events dead-lettered",
            "runbook_url": "docs/runbooks/20_event-outbox-dlq.md",
        },
        "startsAt": "2026-12-01T10:00:00.000Z",
        "endsAt": "2026-12-01T10:07:00.000Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=x",
        "fingerprint": "a1b2c3d4e5f60718",
    }
    alert.update(alert_overrides)
    return {"version": "4", "receiver": "pimlab-lab", "status": status, "groupKey": "{}:{}", "alerts": [alert]}


@pytest.fixture
def token(tmp_path, settings):
    settings.PIMLAB_ALERT_RECEIVER_TOKEN_FILE = str(tmp_path / "observe" / "token")
    settings.PIMLAB_ALERT_WEBHOOK_URL = ""
    return alert_receiver_token_ensure().read_text()


def post(body: dict, token: str | None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client().post(URL, body, content_type="application/json", **headers)


def test_a_firing_alert_is_recorded_once_with_its_runbook_then_resolved(token):
    first = post(notification(), token)
    assert first.status_code == 200, first.content
    assert first.json()["recorded"] == 1
    assert post(notification(), token).json()["recorded"] == 0, "a repeated notification is not a transition"
    assert post(notification("resolved"), token).json()["recorded"] == 1

    firing, resolved = AlertEvent.objects.filter(name="OutboxDeadLetterStorm").order_by("occurred_at")
    assert (firing.status, resolved.status) == (AlertStatus.FIRING, AlertStatus.RESOLVED)
    assert firing.severity == "page" and firing.labels["shard_id"] == "shard_0"
    assert firing.annotations["runbook_url"] == "docs/runbooks/20_event-outbox-dlq.md"
    assert firing.annotations["source"] == "alertmanager"
    assert firing.occurred_at.isoformat().startswith("2026-12-01T10:00:00")
    assert resolved.occurred_at.isoformat().startswith("2026-12-01T10:07:00")
    assert firing.delivered_at is not None, "Alertmanager notified its receivers: the lab does not send it again"


def test_a_wrong_or_missing_token_is_refused(token):
    assert post(notification(), "not-the-token").status_code == 401
    answer = post(notification(), None)
    assert answer.status_code == 401 and "credentials_file" in answer.json()["remediation"]
    assert not AlertEvent.objects.exists()


def test_without_a_token_file_the_receiver_says_how_to_configure_it(settings, tmp_path):
    settings.PIMLAB_ALERT_RECEIVER_TOKEN_FILE = str(tmp_path / "absent")
    answer = post(notification(), "anything")
    assert answer.status_code == 503 and "make observe" in answer.json()["remediation"]


def test_an_unknown_payload_version_is_a_400(token):
    body = notification()
    body["version"] = "3"
    answer = post(body, token)
    assert answer.status_code == 400 and "version" in answer.content.decode()


def test_an_unknown_severity_is_recorded_as_a_ticket(token):
    body = notification(labels={"alertname": "Odd", "severity": "info"})
    assert post(body, token).status_code == 200
    assert AlertEvent.objects.get(name="Odd").severity == "ticket"
