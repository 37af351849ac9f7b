"""Projection backlog and the ``claim_projection_staleness`` SLI, read from the event bus.

Backlog = entries delivered but not acknowledged (pending) + entries not yet delivered (the group's
lag). Staleness = age of the oldest such claim event by its commit time; 0 when caught up. This
module only measures; ``services.projection_backlog_check`` raises or resolves the alert (FR-14.5)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.outbox.eventbus import EventBus, stream_for
from apps.outbox.events import EventType

from .events import CONSUMER_GROUP, PROJECTION_NAME, STREAMS
from .metrics import CLAIM_PROJECTION_STALENESS, PROJECTION_BACKLOG_EVENTS

CLAIM_STREAMS = (stream_for(EventType.CLAIM_SUBMITTED), stream_for(EventType.CLAIM_PAID))
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
    """Read the backlog and export it as gauges. Writes nothing: the alert that follows from it is
    ``services.projection_backlog_check``'s job."""
    result = projection_backlog_read(bus=bus, now=now)
    for stream, backlog in result.streams.items():
        PROJECTION_BACKLOG_EVENTS.labels(projection=PROJECTION_NAME, stream=stream).set(backlog.total)
    CLAIM_PROJECTION_STALENESS.set(result.staleness_seconds)
    return result
