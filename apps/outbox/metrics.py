"""Outbox and event-bus metrics.

Counters and histograms are recorded where the relay runs. The backlog figures (pending count,
oldest pending age, retrying events, dead letters) are read from the shards at scrape time by
``OutboxBacklogCollector``, so every process that serves ``/metrics`` reports the same truth
whichever worker did the publishing.
"""

from __future__ import annotations

import structlog
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

logger = structlog.get_logger(__name__)

EVENTBUS_PUBLISH_LATENCY = Histogram(
    "eventbus_publish_latency",
    "Seconds to publish one relay batch to the event bus (one pipeline), by shard and outcome.",
    ["shard_id", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
OUTBOX_PUBLISHED_TOTAL = Counter(
    "outbox_published_total", "Outbox events published to the event bus.", ["shard_id", "event_type"]
)
OUTBOX_PUBLISH_RETRIES_TOTAL = Counter(
    "outbox_publish_retries_total",
    "Failed publish attempts that left the event pending with a doubled back-off.",
    ["shard_id", "event_type", "reason"],
)
OUTBOX_DEAD_LETTERED_TOTAL = Counter(
    "outbox_dead_lettered_total", "Outbox events moved to the dead-letter state.", ["shard_id", "event_type"]
)
OUTBOX_DEAD_LETTER_RETRIES_TOTAL = Counter(
    "outbox_dead_letter_retries_total", "Dead letters sent back to pending by an operator.", ["shard_id"]
)


class OutboxBacklogCollector:
    """Reads backlog gauges from each shard when Prometheus scrapes."""

    def describe(self):
        return self._families()

    def _families(self):
        return [
            GaugeMetricFamily("outbox_pending_events", "Outbox events waiting to be published.", labels=["shard_id"]),
            GaugeMetricFamily(
                "outbox_oldest_pending_age_seconds",
                "Age of the oldest outbox event still waiting to be published.",
                labels=["shard_id"],
            ),
            GaugeMetricFamily(
                "outbox_retrying_events", "Pending outbox events that failed at least once.", labels=["shard_id"]
            ),
            GaugeMetricFamily(
                "outbox_dead_letters", "Outbox events in the dead-letter state (need an operator).", labels=["shard_id"]
            ),
        ]

    def collect(self):
        from .models import OutboxEvent, OutboxStatus

        pending, oldest, retrying, dead = self._families()
        now = timezone.now()
        for alias in settings.SHARD_ALIASES:
            try:
                figures = OutboxEvent.objects.using(alias).aggregate(
                    pending=Count("id", filter=Q(status=OutboxStatus.PENDING)),
                    oldest=Min("created_at", filter=Q(status=OutboxStatus.PENDING)),
                    retrying=Count("id", filter=Q(status=OutboxStatus.PENDING, attempts__gt=0)),
                    dead=Count("id", filter=Q(status=OutboxStatus.DEAD)),
                )
            except DatabaseError as exc:
                logger.warning("outbox_backlog_unreadable", shard_id=alias, error=str(exc))
                continue
            pending.add_metric([alias], figures["pending"])
            oldest.add_metric([alias], (now - figures["oldest"]).total_seconds() if figures["oldest"] else 0.0)
            retrying.add_metric([alias], figures["retrying"])
            dead.add_metric([alias], figures["dead"])
        yield from (pending, oldest, retrying, dead)


_collector_registered = False


def register_backlog_collector(registry=None) -> None:
    global _collector_registered
    if _collector_registered:
        return
    from prometheus_client import REGISTRY

    (registry or REGISTRY).register(OutboxBacklogCollector())
    _collector_registered = True
