"""Idempotent consumers: at-least-once delivery from the bus, applied exactly once.

``event_apply_once`` records ``ProcessedEvent(consumer, event_id)`` and runs the consumer's
handler in ONE transaction on the database the handler writes to (the catalog by default, where
read models live). A redelivered event hits the unique constraint and is skipped; a handler that
fails rolls back its mark, so the event is applied on the next delivery.

``IdempotentConsumer`` wraps a consumer group: read, apply once, acknowledge, and reclaim entries
left pending by a crashed consumer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog
from django.db import IntegrityError, transaction

from .eventbus import BusMessage, EventBus, get_event_bus, stream_for
from .models import ProcessedEvent

logger = structlog.get_logger(__name__)

EventHandler = Callable[[dict], None]


def event_apply_once(*, consumer: str, event: dict, handler: EventHandler, using: str = "default") -> bool:
    """Apply ``handler(event)`` unless ``consumer`` already has; True when it was applied now."""
    with transaction.atomic(using=using):
        try:
            with transaction.atomic(using=using):
                ProcessedEvent.objects.using(using).create(
                    consumer=consumer, event_id=str(event["event_id"]), event_type=event.get("event_type", "")
                )
        except IntegrityError:
            return False
        handler(event)
    return True


def event_already_processed(*, consumer: str, event_id: str, using: str = "default") -> bool:
    return ProcessedEvent.objects.using(using).filter(consumer=consumer, event_id=str(event_id)).exists()


@dataclass
class ConsumerPass:
    delivered: int = 0
    applied: int = 0
    duplicates: int = 0
    failed: int = 0


class IdempotentConsumer:
    """One consumer in a consumer group over the streams of ``event_types``."""

    def __init__(
        self,
        *,
        name: str,
        group: str,
        event_types: list[str],
        handler: EventHandler,
        bus: EventBus | None = None,
        using: str = "default",
    ):
        self.name = name
        self.group = group
        self.streams = [stream_for(event_type) for event_type in event_types]
        self.handler = handler
        self.bus = bus or get_event_bus()
        self.using = using

    def poll(
        self, *, count: int = 100, block_ms: int | None = None, reclaim_idle_ms: int | None = 60_000
    ) -> ConsumerPass:
        """Handle entries idle past ``reclaim_idle_ms`` in other consumers, then new entries."""
        outcome = ConsumerPass()
        messages: list[BusMessage] = []
        if reclaim_idle_ms is not None:
            for stream in self.streams:
                messages.extend(
                    self.bus.claim_stale(
                        stream=stream, group=self.group, consumer=self.name, min_idle_ms=reclaim_idle_ms, count=count
                    )
                )
        messages.extend(
            self.bus.read_group(
                group=self.group, consumer=self.name, streams=self.streams, count=count, block_ms=block_ms
            )
        )
        acknowledged: dict[str, list[str]] = {}
        for message in messages:
            outcome.delivered += 1
            try:
                applied = event_apply_once(
                    consumer=self.group, event=message.event, handler=self.handler, using=self.using
                )
            except Exception as exc:
                # Left unacknowledged: redelivered by claim_stale after the idle time.
                outcome.failed += 1
                logger.warning(
                    "event_consumer_failed",
                    consumer=self.group,
                    event_id=message.event.get("event_id"),
                    event_type=message.event.get("event_type"),
                    error=str(exc)[:300],
                )
                continue
            if applied:
                outcome.applied += 1
            else:
                outcome.duplicates += 1
            acknowledged.setdefault(message.stream, []).append(message.message_id)
        for stream, message_ids in acknowledged.items():
            self.bus.ack(stream, self.group, message_ids)
        return outcome
