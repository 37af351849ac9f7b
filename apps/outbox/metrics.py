"""Outbox and event-bus metrics.

Counters and histograms are recorded where the relay runs. The backlog figures (pending count,
oldest pending age, retrying events, dead letters) are read from the shards:
- in a single process (``runserver``, tests, Celery without a shared metrics folder) at scrape
  time by ``OutboxBacklogCollector``;
- under prometheus_client's multiprocess mode (gunicorn, ``make run``), where /metrics only sums
  the processes' sample files, by the beat fan-out every few seconds (``outbox_backlog_record``)
  into "most recent" gauges, with ``outbox_backlog_measured_timestamp_seconds`` telling how fresh
  they are (alert when it stops moving: the relay's beat or worker is down).
"""

from __future__ import annotations

import os
import time

import structlog
from django.conf import settings
from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

from apps.telemetry.metric_defaults import label_product, shards, zero_series

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
OUTBOX_DEAD_LETTER_DISCARDS_TOTAL = Counter(
    "outbox_dead_letter_discards_total",
    "Dead letters an operator discarded (releasing the later events of their aggregate).",
    ["shard_id"],
)


BACKLOG_HELP = {
    "outbox_pending_events": "Outbox events waiting to be published.",
    "outbox_oldest_pending_age_seconds": "Age of the oldest outbox event still waiting to be published.",
    "outbox_retrying_events": "Pending outbox events that failed at least once.",
    "outbox_dead_letters": "Outbox events in the dead-letter state (need an operator).",
}


def multiprocess_mode() -> bool:
    # prometheus_client's own process variable (set by gunicorn.conf.py or the launcher).
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def backlog_figures() -> dict[str, dict[str, float]]:
    """{shard alias: {metric name: value}} for every shard that answers."""
    from .models import OutboxEvent, OutboxStatus

    now = timezone.now()
    figures_by_shard: dict[str, dict[str, float]] = {}
    for alias in settings.SHARD_ALIASES:
        try:
            figures = OutboxEvent.objects.using(alias).aggregate(
                pending=Count("id", filter=Q(status=OutboxStatus.PENDING)),
                oldest=Min("created_at", filter=Q(status=OutboxStatus.PENDING)),
                retrying=Count("id", filter=Q(status=OutboxStatus.PENDING, attempts__gt=0)),
                dead=Count("id", filter=Q(status=OutboxStatus.DEAD)),
            )
        except Exception as exc:  # a scrape or a beat tick must never fail because one shard is down
            logger.warning("outbox_backlog_unreadable", shard_id=alias, error=str(exc)[:300])
            continue
        figures_by_shard[alias] = {
            "outbox_pending_events": figures["pending"],
            "outbox_oldest_pending_age_seconds": (now - figures["oldest"]).total_seconds()
            if figures["oldest"]
            else 0.0,
            "outbox_retrying_events": figures["retrying"],
            "outbox_dead_letters": figures["dead"],
        }
    return figures_by_shard


_backlog_gauges: dict[str, Gauge] = {}


def _multiprocess_gauges() -> dict[str, Gauge]:
    if not _backlog_gauges:
        for name, help_text in BACKLOG_HELP.items():
            _backlog_gauges[name] = Gauge(name, help_text, ["shard_id"], multiprocess_mode="mostrecent")
        _backlog_gauges["outbox_backlog_measured_timestamp_seconds"] = Gauge(
            "outbox_backlog_measured_timestamp_seconds",
            "When the outbox backlog gauges were last measured (Unix time).",
            multiprocess_mode="mostrecent",
        )
    return _backlog_gauges


def outbox_backlog_record() -> None:
    """Measure the backlog into the multiprocess gauges (called by the relay's beat fan-out)."""
    if not multiprocess_mode():
        return  # the collector reads the shards at scrape time
    gauges = _multiprocess_gauges()
    for alias, figures in backlog_figures().items():
        for name, value in figures.items():
            gauges[name].labels(shard_id=alias).set(value)
    gauges["outbox_backlog_measured_timestamp_seconds"].set(time.time())


class OutboxBacklogCollector:
    """Reads backlog gauges from each shard when Prometheus scrapes."""

    def describe(self):
        return list(self._families().values())

    def _families(self):
        return {
            name: GaugeMetricFamily(name, help_text, labels=["shard_id"]) for name, help_text in BACKLOG_HELP.items()
        }

    def collect(self):
        families = self._families()
        for alias, figures in backlog_figures().items():
            for name, value in figures.items():
                families[name].add_metric([alias], value)
        yield from families.values()


_collector_registered = False


def register_backlog_collector(registry=None) -> None:
    global _collector_registered
    if _collector_registered or multiprocess_mode():
        return
    from prometheus_client import REGISTRY

    (registry or REGISTRY).register(OutboxBacklogCollector())
    _collector_registered = True


# Series that exist before the first publish (apps/telemetry/metric_defaults.py); dead letters by
# event type are declared by the apps that own the event types.
zero_series(EVENTBUS_PUBLISH_LATENCY, lambda: label_product(shard_id=shards(), outcome=("ok", "error", "unavailable")))
