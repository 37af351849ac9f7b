"""Backlog, claim_projection_staleness and the backlog alert (seed FR-14.5), measured on real streams."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from apps.outbox.eventbus import get_event_bus
from apps.projections.backlog import BACKLOG_ALERT_NAME, projection_backlog_measure
from apps.projections.consumer import ProjectionConsumer
from apps.projections.tasks import projections_backlog_check_task
from apps.slo.models import AlertEvent
from tests.support.envelopes import claim_submitted

pytestmark = pytest.mark.django_db(databases="__all__")


def claims(count: int, *, committed_ago: timedelta) -> list[dict]:
    committed = timezone.now() - committed_ago
    return [
        claim_submitted(
            claim_id=1000 + i,
            encounter_id=2000 + i,
            payer_code="ACME-HEALTH",
            total_amount="10.00",
            submitted_at=committed,
        )
        for i in range(count)
    ]


def test_staleness_is_the_age_of_the_oldest_unapplied_claim_event_and_zero_when_caught_up():
    bus = get_event_bus()
    bus.publish_batch(claims(3, committed_ago=timedelta(seconds=90)))
    backlog = projection_backlog_measure(bus=bus)
    assert backlog.total == 3
    assert 90 <= backlog.staleness_seconds < 150
    assert REGISTRY.get_sample_value("claim_projection_staleness") == backlog.staleness_seconds

    worker = ProjectionConsumer(bus=bus, consumer="w", batch_size=2)
    messages, _ = worker.read()  # delivered, not yet acknowledged: still stale
    assert projection_backlog_measure(bus=bus).staleness_seconds >= 90
    worker.process(messages)
    worker.drain()
    caught_up = projection_backlog_measure(bus=bus)
    assert caught_up.total == 0 and caught_up.staleness_seconds == 0
    assert REGISTRY.get_sample_value("claim_projection_staleness") == 0


def test_backlog_past_threshold_fires_the_alert_once_and_resolves(settings):
    settings.PIMLAB_PROJECTION_BACKLOG_ALERT_EVENTS = 5
    bus = get_event_bus()
    bus.publish_batch(claims(8, committed_ago=timedelta(seconds=5)))
    assert projections_backlog_check_task.apply().get() == 8
    projection_backlog_measure(bus=bus)  # still firing: no second event
    assert REGISTRY.get_sample_value("projection_backlog_alert", {"projection": "financial"}) == 1
    firing = AlertEvent.objects.get(name=BACKLOG_ALERT_NAME, status="firing")
    assert firing.labels["projection"] == "financial" and "18_projection-backlog" in firing.annotations["runbook"]

    ProjectionConsumer(bus=bus, consumer="w").drain()
    projection_backlog_measure(bus=bus)
    assert REGISTRY.get_sample_value("projection_backlog_alert", {"projection": "financial"}) == 0
    assert list(
        AlertEvent.objects.filter(name=BACKLOG_ALERT_NAME).order_by("occurred_at").values_list("status", flat=True)
    ) == ["firing", "resolved"]
