"""Projection backlog and the ``claim_projection_staleness`` SLI, read from the event bus.

Backlog = entries delivered but not acknowledged (pending) + entries not yet delivered (the group's
lag). Staleness = age of the oldest such claim event by its commit time; 0 when caught up. Past the
threshold the backlog alert metric goes to 1 and an alert event is recorded (seed FR-14.5)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.outbox.eventbus import EventBus, stream_for
from apps.slo.services import alert_event_record

from .events import CLAIM_PAID, CLAIM_SUBMITTED, CONSUMER_GROUP, PROJECTION_NAME, STREAMS
from .metrics import CLAIM_PROJECTION_STALENESS, PROJECTION_BACKLOG_ALERT, PROJECTION_BACKLOG_EVENTS
from .models import ProjectionCheckpoint

logger = structlog.get_logger(__name__)

CLAIM_STREAMS = (stream_for(CLAIM_SUBMITTED), stream_for(CLAIM_PAID))
BACKLOG_ALERT_NAME = "ProjectionBacklogGrowing"


def backlog_alert_threshold() -> int:
    return settings.PIMLAB_PROJECTION_BACKLOG_ALERT_EVENTS


@dataclass
class StreamBacklog:
    pending: int = 0
    undelivered: int = 0
    oldest_occurred_at: datetime | None = None

    @property
    def total(self) -> int:
        return self.pending + self.undelivered


@dataclass
class ProjectionBacklog:
    streams: dict[str, StreamBacklog] = field(default_factory=dict)
    staleness_seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(stream.total for stream in self.streams.values())


def _decode(value):
    return value.decode() if isinstance(value, bytes) else value


def _occurred_at(client, stream: str, message_id: str) -> datetime | None:
    entries = client.xrange(stream, min=message_id, max=message_id, count=1)
    if not entries:
        return None
    fields = entries[0][1]
    raw = fields.get(b"event") or fields.get("event")
    try:
        return parse_datetime(json.loads(raw).get("occurred_at", ""))
    except (TypeError, ValueError):
        return None


def stream_backlog(bus: EventBus, stream: str) -> StreamBacklog:
    client = getattr(bus, "client", None)
    if client is None:  # embedded bus: only the pending count is known
        return StreamBacklog(pending=bus.pending_count(stream, CONSUMER_GROUP))
    import redis

    try:
        groups = client.xinfo_groups(stream)
    except redis.ResponseError:  # the stream does not exist yet
        return StreamBacklog()
    group = next((g for g in groups if _decode(g.get("name")) == CONSUMER_GROUP), None)
    if group is None:
        length = client.xlen(stream)
        first = client.xrange(stream, count=1)
        oldest = _occurred_at(client, stream, _decode(first[0][0])) if first else None
        return StreamBacklog(undelivered=length, oldest_occurred_at=oldest)
    backlog = StreamBacklog(pending=int(group.get("pending") or 0), undelivered=int(group.get("lag") or 0))
    oldest_id = None
    if backlog.pending:
        oldest_id = _decode(client.xpending(stream, CONSUMER_GROUP)["min"])
    elif backlog.undelivered:
        last = _decode(group.get("last-delivered-id"))
        following = client.xrange(stream, min=f"({last}", count=1)
        oldest_id = _decode(following[0][0]) if following else None
    if oldest_id:
        backlog.oldest_occurred_at = _occurred_at(client, stream, oldest_id)
    return backlog


def projection_backlog_read(*, bus: EventBus, now: datetime | None = None) -> ProjectionBacklog:
    """The backlog per stream and the staleness of the oldest unapplied claim event; writes nothing."""
    now = now or timezone.now()
    result = ProjectionBacklog(streams={stream: stream_backlog(bus, stream) for stream in STREAMS})
    oldest = [result.streams[s].oldest_occurred_at for s in CLAIM_STREAMS if result.streams[s].oldest_occurred_at]
    result.staleness_seconds = max((now - min(oldest)).total_seconds(), 0.0) if oldest else 0.0
    return result


def projection_backlog_measure(*, bus: EventBus, now: datetime | None = None) -> ProjectionBacklog:
    """Measure, export the gauges, and raise or resolve the backlog alert on a threshold crossing."""
    result = projection_backlog_read(bus=bus, now=now)
    for stream, backlog in result.streams.items():
        PROJECTION_BACKLOG_EVENTS.labels(projection=PROJECTION_NAME, stream=stream).set(backlog.total)
    CLAIM_PROJECTION_STALENESS.set(result.staleness_seconds)
    firing = result.total > backlog_alert_threshold()
    PROJECTION_BACKLOG_ALERT.labels(projection=PROJECTION_NAME).set(1 if firing else 0)
    _alert_transition(firing=firing, backlog=result)
    return result


def _alert_transition(*, firing: bool, backlog: ProjectionBacklog) -> None:
    with transaction.atomic(using="default"):
        checkpoint, _ = (
            ProjectionCheckpoint.objects.using("default").select_for_update().get_or_create(name=PROJECTION_NAME)
        )
        if checkpoint.backlog_alert_firing == firing:
            return
        checkpoint.backlog_alert_firing = firing
        checkpoint.save(using="default", update_fields=["backlog_alert_firing"])
        alert_event_record(
            name=BACKLOG_ALERT_NAME,
            severity="ticket",
            status="firing" if firing else "resolved",
            labels={"projection": PROJECTION_NAME, "service": "projection-worker"},
            annotations={
                "summary": f"Projection backlog {backlog.total} events (threshold {backlog_alert_threshold()}).",
                "staleness_seconds": f"{backlog.staleness_seconds:.1f}",
                "runbook": "docs/runbooks/18_projection-backlog.md",
            },
        )
    logger.warning(
        "projection_backlog_alert",
        status="firing" if firing else "resolved",
        backlog=backlog.total,
        staleness_seconds=round(backlog.staleness_seconds, 1),
    )
