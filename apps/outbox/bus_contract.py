"""What every event bus offers (the relay publishes, consumers read), independent of the backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

STREAM_PREFIX = "pimlab:events:"


def stream_for(event_type: str) -> str:
    return f"{STREAM_PREFIX}{event_type}"


@dataclass(frozen=True)
class BusMessage:
    stream: str
    message_id: str
    event: dict  # the envelope: event_id, event_type, aggregate_type, aggregate_id, occurred_at, payload, headers
    delivery_count: int = 1


def dead_letter_record(message: BusMessage, error: str) -> dict:
    """What a dead letter keeps, on every bus: the event as delivered, where it came from, and why."""
    return {
        "event": message.event,
        "stream": message.stream,
        "message_id": message.message_id,
        "delivery_count": message.delivery_count,
        "error": error[:500],
    }


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
    def dead_letter(self, *, dead_letter_stream: str, message: BusMessage, error: str) -> str: ...
    def ping(self) -> bool: ...
