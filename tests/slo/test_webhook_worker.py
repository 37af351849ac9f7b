"""An alert raised in a request reaches the webhook receiver through the Celery task enqueued on
commit, delivered by a real worker process; the request itself never POSTs."""

from __future__ import annotations

import time

import pytest
import requests
from django.db import transaction

from apps.slo.models import AlertEvent
from pimlab_portal.celery import app as celery_app
from tests.outbox.test_relay_worker import relay_worker  # noqa: F401 (fixture)
from tests.support.bus import broker_pools_reset

from .test_webhook import _assert_alertmanager_shape, _Receiver, rto_breach_alert_record

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


@pytest.fixture
def receiver_and_worker(monkeypatch, settings, request):
    receiver = _Receiver()
    # The worker process reads the receiver's address from its environment, like production.
    monkeypatch.setenv("PIMLAB_ALERT_WEBHOOK_URL", receiver.url)
    settings.PIMLAB_ALERT_WEBHOOK_URL = receiver.url
    broker_pools_reset(celery_app)  # publish on fresh broker connections, whatever ran before
    request.getfixturevalue("relay_worker")
    yield receiver
    receiver.close()


def test_an_alert_is_delivered_by_the_worker_after_commit_and_never_in_the_request(receiver_and_worker, monkeypatch):
    def posted_in_this_process(*args, **kwargs):
        raise AssertionError("the alert webhook was POSTed by the process that raised the alert")

    monkeypatch.setattr(requests, "post", posted_in_this_process)
    with transaction.atomic():
        event = rto_breach_alert_record()
        assert receiver_and_worker.bodies == []  # nothing leaves before the commit

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not AlertEvent.objects.filter(pk=event.pk, delivered_at__isnull=False):
        time.sleep(0.2)
    event.refresh_from_db()
    assert event.delivered_at is not None and event.delivery_error == ""
    (received,) = receiver_and_worker.bodies
    alert = _assert_alertmanager_shape(received["body"])
    assert alert["labels"]["alertname"] == "ChaosRtoBreached" and alert["status"] == "firing"
