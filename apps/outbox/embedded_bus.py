"""The event bus of the embedded profile: Redis Streams semantics on catalog tables, no server.

Streams are rows of ``EventStreamEntry`` ordered by id; a consumer group remembers the last
entry it handed out; delivered-but-unacknowledged entries sit in ``EventPendingEntry`` until
acknowledged, and ``claim_stale`` hands entries idle too long to another consumer (redelivery
after a crash). Message ids are the entry ids as strings.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .bus_contract import BusMessage, EventBusUnavailable, dead_letter_record, stream_for
from .models import EventConsumerGroup, EventPendingEntry, EventStreamEntry

CATALOG = "default"
_POLL_INTERVAL_SECONDS = 0.05


def outage_flag() -> Path:
    """While this file exists the embedded bus refuses every call, as a frozen broker would.

    The embedded bus has no process a drill could freeze; the chaos controller's event bus outage
    creates and removes this file (in the lab's run folder, never a path from a manifest)."""
    return Path(settings.PIMLAB_RUN_DIR) / "eventbus.outage"


class DatabaseEventBus:
    def __init__(self, using: str = CATALOG):
        self.using = using

    def _refuse_during_outage(self) -> None:
        if outage_flag().exists():
            raise EventBusUnavailable("embedded event bus unavailable: outage injected by a chaos drill")

    # -- producing -----------------------------------------------------------------------
    def publish_batch(self, events: list[dict]) -> list[str]:
        results = self.publish_each(events)
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results  # type: ignore[return-value]

    def publish_each(self, events: list[dict]) -> list[str | Exception]:
        self._refuse_during_outage()
        entries = []
        results: list[str | Exception | None] = [None] * len(events)
        for position, event in enumerate(events):
            try:
                # Reject what Redis would reject: an envelope that does not serialize.
                json.dumps(event)
            except (TypeError, ValueError) as exc:
                results[position] = exc
                continue
            entries.append(
                (
                    position,
                    EventStreamEntry(stream=stream_for(event["event_type"]), event_id=event["event_id"], event=event),
                )
            )
        try:
            with transaction.atomic(using=self.using):
                created = EventStreamEntry.objects.using(self.using).bulk_create([entry for _, entry in entries])
        except DatabaseError as exc:
            raise EventBusUnavailable(f"database event bus unavailable: {exc}") from exc
        if any(entry.id is None for entry in created):
            # Backends that cannot return ids from a bulk insert: write one by one.
            with transaction.atomic(using=self.using):
                for entry in created:
                    if entry.id is None:
                        entry.save(using=self.using)
        for (position, _), entry in zip(entries, created, strict=True):
            results[position] = str(entry.id)
        return results  # type: ignore[return-value]

    # -- consuming -----------------------------------------------------------------------
    def ensure_group(self, stream: str, group: str) -> None:
        self._group(stream, group)

    def _group(self, stream: str, group: str) -> EventConsumerGroup:
        try:
            found, _ = EventConsumerGroup.objects.using(self.using).get_or_create(stream=stream, group=group)
        except IntegrityError:
            found = EventConsumerGroup.objects.using(self.using).get(stream=stream, group=group)
        return found

    def read_group(self, *, group, consumer, streams, count=100, block_ms=None) -> list[BusMessage]:
        self._refuse_during_outage()
        deadline = time.monotonic() + (block_ms or 0) / 1000
        while True:
            messages: list[BusMessage] = []
            for stream in streams:
                messages.extend(self._deliver_new(stream, group, consumer, count - len(messages)))
                if len(messages) >= count:
                    break
            if messages or block_ms is None or time.monotonic() >= deadline:
                return messages
            time.sleep(_POLL_INTERVAL_SECONDS)

    def _deliver_new(self, stream: str, group: str, consumer: str, count: int) -> list[BusMessage]:
        if count <= 0:
            return []
        self._group(stream, group)
        with transaction.atomic(using=self.using):
            locked = EventConsumerGroup.objects.using(self.using).select_for_update().get(stream=stream, group=group)
            entries = list(
                EventStreamEntry.objects.using(self.using)
                .filter(stream=stream, id__gt=locked.last_delivered_id)
                .order_by("id")[:count]
            )
            if not entries:
                return []
            now = timezone.now()
            EventPendingEntry.objects.using(self.using).bulk_create(
                [EventPendingEntry(group=locked, entry=e, consumer=consumer, delivered_at=now) for e in entries]
            )
            locked.last_delivered_id = entries[-1].id
            locked.save(using=self.using, update_fields=["last_delivered_id"])
        return [BusMessage(stream=stream, message_id=str(e.id), event=e.event) for e in entries]

    def ack(self, stream, group, message_ids) -> int:
        if not message_ids:
            return 0
        deleted, _ = (
            EventPendingEntry.objects.using(self.using)
            .filter(group__stream=stream, group__group=group, entry_id__in=[int(m) for m in message_ids])
            .delete()
        )
        return deleted

    def claim_stale(self, *, stream, group, consumer, min_idle_ms, count=100) -> list[BusMessage]:
        group_row = self._group(stream, group)
        now = timezone.now()
        with transaction.atomic(using=self.using):
            stale = list(
                EventPendingEntry.objects.using(self.using)
                .select_for_update(skip_locked=True)
                .select_related("entry")
                .filter(group=group_row, delivered_at__lte=now - timedelta(milliseconds=min_idle_ms))
                .order_by("entry_id")[:count]
            )
            if not stale:
                return []
            EventPendingEntry.objects.using(self.using).filter(pk__in=[p.pk for p in stale]).update(
                consumer=consumer, delivered_at=now, delivery_count=F("delivery_count") + 1
            )
        return [
            BusMessage(
                stream=stream, message_id=str(p.entry_id), event=p.entry.event, delivery_count=p.delivery_count + 1
            )
            for p in stale
        ]

    def pending_count(self, stream, group) -> int:
        return EventPendingEntry.objects.using(self.using).filter(group__stream=stream, group__group=group).count()

    def dead_letter(self, *, dead_letter_stream: str, message: BusMessage, error: str) -> str:
        """A dead letter is an entry on the dead-letter stream, as on Redis: kept, never dropped."""
        self._refuse_during_outage()
        record = dead_letter_record(message, error)
        event_id = message.event.get("event_id") if isinstance(message.event, dict) else None
        entry = EventStreamEntry.objects.using(self.using).create(
            stream=dead_letter_stream,
            event_id=str(event_id or f"{message.stream[-20:]}#{message.message_id}")[:40],
            event=json.loads(json.dumps(record, default=str)),
        )
        return str(entry.id)

    # -- inspecting ----------------------------------------------------------------------
    def read_range(self, stream, *, after_id="0", count=1000) -> list[BusMessage]:
        start = 0 if after_id in ("0", "-") else int(after_id)
        entries = EventStreamEntry.objects.using(self.using).filter(stream=stream, id__gt=start).order_by("id")[:count]
        return [BusMessage(stream=stream, message_id=str(e.id), event=e.event) for e in entries]

    def ping(self) -> bool:
        if outage_flag().exists():
            return False
        try:
            EventStreamEntry.objects.using(self.using).exists()
        except DatabaseError:
            return False
        return True
