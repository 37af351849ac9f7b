"""The event bus between the outbox relay and its consumers (projections, shippers, probes).

Redis Streams in the services profile: one stream per event type, consumer groups,
acknowledgements and redelivery of entries left pending by a crashed consumer.
``get_event_bus()`` picks the implementation from ``settings.PIMLAB_EVENTBUS_URL``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings

STREAM_PREFIX = "pimlab:events:"


def stream_for(event_type: str) -> str:
    return f"{STREAM_PREFIX}{event_type}"


@dataclass(frozen=True)
class BusMessage:
    stream: str
    message_id: str
    event: dict  # the envelope: event_id, event_type, aggregate_type, aggregate_id, occurred_at, payload, headers
    delivery_count: int = 1


class EventBusUnavailable(ConnectionError):
    """The bus as a whole cannot be reached: nothing in the batch was published because of the event."""


class EventBus(Protocol):
    def publish_batch(self, events: list[dict]) -> list[str]: ...
    def publish_each(self, events: list[dict]) -> list[str | Exception]: ...
    def ensure_group(self, stream: str, group: str) -> None: ...
    def read_group(
        self, *, group: str, consumer: str, streams: list[str], count: int = 100, block_ms: int | None = None
    ) -> list[BusMessage]: ...
    def ack(self, stream: str, group: str, message_ids: list[str]) -> int: ...
    def claim_stale(
        self, *, stream: str, group: str, consumer: str, min_idle_ms: int, count: int = 100
    ) -> list[BusMessage]: ...
    def pending_count(self, stream: str, group: str) -> int: ...
    def read_range(self, stream: str, *, after_id: str = "0", count: int = 1000) -> list[BusMessage]: ...
    def ping(self) -> bool: ...


class RedisStreamsEventBus:
    """Redis Streams: XADD in one pipeline per batch, XREADGROUP/XACK, XAUTOCLAIM for redelivery."""

    def __init__(self, url: str, *, stream_maxlen: int | None = None):
        import redis
        from django.conf import settings

        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        # Streams are trimmed (approximately, in whole macro-nodes) to a bounded length, so Redis memory
        # stays flat; rebuilds do not depend on the bus keeping everything (runbook 18).
        self.stream_maxlen = stream_maxlen or settings.PIMLAB_EVENTBUS_STREAM_MAXLEN

    def publish_batch(self, events: list[dict]) -> list[str]:
        pipeline = self.client.pipeline(transaction=False)
        for event in events:
            pipeline.xadd(
                stream_for(event["event_type"]),
                {"event": json.dumps(event, separators=(",", ":"))},
                maxlen=self.stream_maxlen,
                approximate=True,
            )
        return [message_id.decode() for message_id in pipeline.execute()]

    def publish_each(self, events: list[dict]) -> list[str | Exception]:
        """One pipeline for the batch; a result per event: its message id, or the error for that event.

        Raises ``EventBusUnavailable`` when Redis cannot be reached at all."""
        import redis

        pipeline = self.client.pipeline(transaction=False)
        for event in events:
            pipeline.xadd(
                stream_for(event["event_type"]),
                {"event": json.dumps(event, separators=(",", ":"))},
                maxlen=self.stream_maxlen,
                approximate=True,
            )
        try:
            results = pipeline.execute(raise_on_error=False)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            raise EventBusUnavailable(f"Redis event bus unreachable: {exc}") from exc
        return [r.decode() if isinstance(r, bytes) else r for r in results]

    def ensure_group(self, stream: str, group: str) -> None:
        import redis

        try:
            self.client.xgroup_create(stream, group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read_group(self, *, group, consumer, streams, count=100, block_ms=None) -> list[BusMessage]:
        for stream in streams:
            self.ensure_group(stream, group)
        response = self.client.xreadgroup(group, consumer, {s: ">" for s in streams}, count=count, block=block_ms)
        return [
            _message(stream.decode(), message_id, fields)
            for stream, entries in response or []
            for message_id, fields in entries
            if fields
        ]

    def ack(self, stream, group, message_ids) -> int:
        return self.client.xack(stream, group, *message_ids) if message_ids else 0

    def claim_stale(self, *, stream, group, consumer, min_idle_ms, count=100) -> list[BusMessage]:
        self.ensure_group(stream, group)
        _next, entries, *_deleted = self.client.xautoclaim(
            stream, group, consumer, min_idle_time=min_idle_ms, start_id="0-0", count=count
        )
        return [_message(stream, message_id, fields, delivery_count=2) for message_id, fields in entries if fields]

    def pending_count(self, stream, group) -> int:
        import redis

        try:
            return int(self.client.xpending(stream, group)["pending"])
        except redis.ResponseError:
            return 0

    def read_range(self, stream, *, after_id="0", count=1000) -> list[BusMessage]:
        start = "-" if after_id in ("0", "-") else f"({after_id}"
        return [
            _message(stream, message_id, fields)
            for message_id, fields in self.client.xrange(stream, min=start, count=count)
        ]

    def ping(self) -> bool:
        return bool(self.client.ping())


def _message(stream: str, message_id, fields, delivery_count: int = 1) -> BusMessage:
    raw = fields.get(b"event") or fields.get("event")
    return BusMessage(
        stream=stream if isinstance(stream, str) else stream.decode(),
        message_id=message_id.decode() if isinstance(message_id, bytes) else message_id,
        event=json.loads(raw),
        delivery_count=delivery_count,
    )


_bus: EventBus | None = None
_bus_lock = threading.Lock()


def get_event_bus() -> EventBus:
    global _bus
    with _bus_lock:
        if _bus is None:
            url = settings.PIMLAB_EVENTBUS_URL
            if url.startswith(("redis://", "rediss://", "unix://")):
                _bus = RedisStreamsEventBus(url)
            else:
                from .embedded_bus import DatabaseEventBus

                _bus = DatabaseEventBus()
        return _bus


def reset_event_bus() -> None:
    global _bus
    with _bus_lock:
        _bus = None
