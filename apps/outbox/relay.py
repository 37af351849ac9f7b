"""The outbox relay: moves committed outbox rows of one shard to the event bus.

Each batch is one shard transaction that
1. takes the shard's relay lock (one relay drains a shard at a time, so batches go out in order),
2. claims due rows in id order with ``SELECT … FOR UPDATE SKIP LOCKED``, leaving out every row
   whose aggregate (patient) has an earlier row waiting for a retry or dead-lettered — per-aggregate
   order holds until an operator retries or discards the dead letter,
3. publishes the batch (span "Event Bus", linked to each request's trace) so that an aggregate
   whose event failed sends nothing more in this batch, and no later event ever reaches the bus
   before an earlier one of the same patient: on Redis in one round trip, a server-side script
   that sends the events in id order and skips the rest of an aggregate after its first failure;
   on a bus without that, in waves, one pipeline each: wave k holds the k-th event of every
   aggregate in the batch,
4. marks published rows, and gives failed rows a doubling back-off; an event that keeps failing
   on its own account becomes a dead letter after ``PIMLAB_OUTBOX_MAX_ATTEMPTS`` attempts.

"Order" is id order, i.e. the order in which events were recorded: ids carry their creation
millisecond, so events of one patient written one after the other keep their order; events of
two concurrent transactions of the same patient go out in id order once both have committed
(one committed later with a smaller id is published after the other).

Delivery is at least once: a crash between publish and commit republishes the batch, so
consumers remember processed event ids (the projections' ``ProcessedEvent``).
"""

from __future__ import annotations

import json
import time
import zlib
from dataclasses import dataclass
from datetime import timedelta

import structlog
from django.conf import settings
from django.db import connections, transaction
from django.db.models import Exists, OuterRef, Q, TextField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, SpanKind

from apps.telemetry import context
from apps.telemetry.participants import Participant
from apps.telemetry.tracing import tracer

from .eventbus import EventBus, EventBusUnavailable, get_event_bus
from .history import OccurredAt, outbox_envelope_json
from .metrics import (
    EVENTBUS_PUBLISH_LATENCY,
    OUTBOX_DEAD_LETTERED_TOTAL,
    OUTBOX_PUBLISH_RETRIES_TOTAL,
    OUTBOX_PUBLISHED_TOTAL,
)
from .models import OutboxEvent, OutboxStatus

logger = structlog.get_logger(__name__)

# One advisory-lock key per shard database (each shard is its own database).
_RELAY_LOCK_KEY = zlib.crc32(b"pimlab-outbox-relay")
# The SDK keeps at most this many links per span by default.
_MAX_LINKS_PER_SPAN = 128
# Rows per round trip when the bus keeps the order itself (bounds how long one script holds Redis).
_ORDERED_CHUNK = 1000
# Payload and headers stay JSON text: the relay puts them into the envelope without decoding them.
_CLAIMED_FIELDS = (
    "id",
    "aggregate_type",
    "aggregate_id",
    "event_type",
    "payload_json",
    "headers_json",
    "traceparent",
    "attempts",
    "occurred_at",
)


def max_attempts() -> int:
    return int(settings.PIMLAB_OUTBOX_MAX_ATTEMPTS)


def backoff_seconds(attempts: int) -> float:
    """Doubling back-off after the ``attempts``-th failure: base, 2×base, 4×base … up to the cap."""
    base = float(settings.PIMLAB_OUTBOX_BACKOFF_BASE_SECONDS)
    cap = float(settings.PIMLAB_OUTBOX_BACKOFF_MAX_SECONDS)
    return min(cap, base * (2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class BatchOutcome:
    claimed: int = 0
    published: int = 0
    failed: int = 0
    dead_lettered: int = 0
    bus_unavailable: bool = False
    locked_out: bool = False


# Rows per batch (one shard transaction, one script call on Redis): each batch has a fixed cost (query
# compilation, lock, commit, spans), and 1,000 rows keep a batch's row locks and script short.
RELAY_BATCH_SIZE = 1000


def outbox_relay_drain(*, shard_alias: str, batch_size: int = RELAY_BATCH_SIZE, bus: EventBus | None = None) -> int:
    """Publish due outbox rows of ``shard_alias`` until none is left (or the time budget is spent).

    Returns the number of events published in this call."""
    if shard_alias not in settings.SHARD_ALIASES:
        raise ValueError(f"{shard_alias!r} is not a configured shard ({', '.join(settings.SHARD_ALIASES)})")
    bus = bus or get_event_bus()
    budget = float(settings.PIMLAB_OUTBOX_DRAIN_SECONDS)
    deadline = time.monotonic() + budget
    context.bind(shard_id=shard_alias, actor_role="system", persona="system")
    published = 0
    while True:
        outcome = outbox_relay_batch(shard_alias=shard_alias, batch_size=batch_size, bus=bus)
        published += outcome.published
        if (
            outcome.claimed < batch_size
            or outcome.bus_unavailable
            or outcome.locked_out
            or time.monotonic() >= deadline
        ):
            return published


def outbox_relay_batch(*, shard_alias: str, batch_size: int, bus: EventBus) -> BatchOutcome:
    with (
        tracer().start_as_current_span(Participant.OUTBOX_RELAY, attributes={"shard_id": shard_alias}) as relay_span,
        transaction.atomic(using=shard_alias),
    ):
        if not _take_shard_relay_lock(shard_alias):
            relay_span.set_attribute("pimlab.relay.locked_out", True)
            return BatchOutcome(locked_out=True)
        now = timezone.now()
        rows = _claim_due_rows(shard_alias, batch_size, now)
        relay_span.set_attribute("messaging.batch.message_count", len(rows))
        if not rows:
            return BatchOutcome()
        results, bus_unavailable = _publish(bus, shard_alias, rows)
        outcome = _record_results(shard_alias, rows, results, now=now, bus_unavailable=bus_unavailable)
    if outcome.published:
        logger.info(
            "outbox_batch_published",
            shard_id=shard_alias,
            published=outcome.published,
            failed=outcome.failed,
            dead_lettered=outcome.dead_lettered,
        )
    return outcome


def _take_shard_relay_lock(alias: str) -> bool:
    connection = connections[alias]
    if connection.vendor != "postgresql":
        # SQLite serializes writers already; other backends rely on SKIP LOCKED alone.
        return True
    with connection.cursor() as cursor:
        # The batch's commit does not wait for its WAL flush: it only records that events already on
        # the bus went out, so a server crash that loses it makes the relay publish them again, which
        # at-least-once delivery allows (consumers drop event ids they processed).
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(%s), set_config('synchronous_commit', 'off', true)", [_RELAY_LOCK_KEY]
        )
        return bool(cursor.fetchone()[0])


def _claim_due_rows(alias: str, batch_size: int, now) -> list[dict]:
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    earlier_waiting = OutboxEvent.objects.using(alias).filter(
        Q(status=OutboxStatus.PENDING, next_attempt_at__gt=now) | Q(status=OutboxStatus.DEAD),
        aggregate_id=OuterRef("aggregate_id"),
        id__lt=OuterRef("id"),
    )
    queryset = (
        OutboxEvent.objects.using(alias)
        .select_for_update(skip_locked=True, of=("self",))
        .filter(due, status=OutboxStatus.PENDING)
        .exclude(Exists(earlier_waiting))
        .annotate(
            payload_json=Cast("payload", TextField()),
            headers_json=Cast("headers", TextField()),
            traceparent=KT("headers__traceparent"),
            occurred_at=OccurredAt(),
        )
        .order_by("id")
        .values(*_CLAIMED_FIELDS)[:batch_size]
    )
    return list(queryset)


def _trace_links(rows: list[dict]) -> list[Link]:
    links: list[Link] = []
    seen: set[int] = set()
    seen_parents: set[str] = set()
    for row in rows:
        parent = row["traceparent"]
        if not parent or parent in seen_parents:
            continue
        seen_parents.add(parent)
        headers = json.loads(row["headers_json"]) or {}
        span_context = trace.get_current_span(propagate.extract(headers)).get_span_context()
        if span_context.is_valid and span_context.trace_id not in seen:
            seen.add(span_context.trace_id)
            links.append(Link(span_context, {"pimlab.event_id": str(row["id"])}))
            if len(links) >= _MAX_LINKS_PER_SPAN:
                break
    return links


def publish_waves(rows: list[dict]) -> list[list[int]]:
    """Row indexes per wave: wave k holds the k-th row (in id order) of each aggregate."""
    waves: list[list[int]] = []
    seen: dict[int, int] = {}
    for index, row in enumerate(rows):
        position = seen.get(row["aggregate_id"], 0)
        seen[row["aggregate_id"]] = position + 1
        if position == len(waves):
            waves.append([])
        waves[position].append(index)
    return waves


def _publish(bus: EventBus, alias: str, rows: list[dict]):
    """A result per row: the bus's message id, or the error; rows held back by an earlier failure of
    their aggregate get ``HeldBack`` and are not sent at all."""
    if getattr(bus, "publish_in_order", None) is not None:
        return _publish_in_order(bus, alias, rows)
    envelopes = [json.loads(outbox_envelope_json(row)) for row in rows]
    return _publish_in_waves(bus, alias, rows, envelopes)


def _publish_in_order(bus: EventBus, alias: str, rows: list[dict]):
    """The bus keeps each aggregate's order itself (one round trip per chunk of the batch): an aggregate
    whose event failed sends nothing more, in this chunk and in the later ones."""
    results: list = []
    failed_aggregates: set[int] = set()
    for start in range(0, len(rows), _ORDERED_CHUNK):
        chunk = range(start, min(start + _ORDERED_CHUNK, len(rows)))
        sending = [i for i in chunk if rows[i]["aggregate_id"] not in failed_aggregates]
        chunk_results: dict[int, object] = {i: HeldBack() for i in chunk}
        if sending:
            sent_rows = [rows[i] for i in sending]
            encoded = [(row["event_type"], str(row["aggregate_id"]), outbox_envelope_json(row)) for row in sent_rows]
            sent, unavailable = _publish_pipeline(alias, sent_rows, lambda e=encoded: bus.publish_in_order(e))
            if unavailable:
                return results + [sent[0]] * (len(rows) - len(results)), True
            for index, result in zip(sending, sent, strict=True):
                chunk_results[index] = HeldBack() if result is None else result
                if isinstance(result, Exception):
                    failed_aggregates.add(rows[index]["aggregate_id"])
        results.extend(chunk_results[i] for i in chunk)
    return results, False


def _publish_in_waves(bus: EventBus, alias: str, rows: list[dict], envelopes: list[dict]):
    """For a bus that publishes a list without regard to keys: wave k holds the k-th event of each
    aggregate, one round trip per wave."""
    results: list = [None] * len(rows)
    failed_aggregates: set[int] = set()
    for wave in publish_waves(rows):
        held = [i for i in wave if rows[i]["aggregate_id"] in failed_aggregates]
        for index in held:
            results[index] = HeldBack()
        sending = [i for i in wave if rows[i]["aggregate_id"] not in failed_aggregates]
        if not sending:
            continue
        wave_envelopes = [envelopes[i] for i in sending]
        wave_results, unavailable = _publish_pipeline(
            alias, [rows[i] for i in sending], lambda wave_envelopes=wave_envelopes: bus.publish_each(wave_envelopes)
        )
        if unavailable:
            for index in range(len(rows)):
                if results[index] is None or index in sending:
                    results[index] = wave_results[0]
            return results, True
        for index, result in zip(sending, wave_results, strict=True):
            results[index] = result
            if isinstance(result, Exception):
                failed_aggregates.add(rows[index]["aggregate_id"])
    return results, False


class HeldBack(Exception):
    """Not sent: an earlier event of the same aggregate failed in this batch."""


def _publish_pipeline(alias: str, rows: list[dict], send):
    """One round trip to the bus (``send()``) in an "Event Bus" span linked to the requests' traces."""
    attributes = {"shard_id": alias, "messaging.operation": "publish", "messaging.batch.message_count": len(rows)}
    with tracer().start_as_current_span(
        Participant.EVENT_BUS, kind=SpanKind.PRODUCER, links=_trace_links(rows), attributes=attributes
    ) as span:
        started = time.perf_counter()
        try:
            results = send()
        except EventBusUnavailable as exc:
            EVENTBUS_PUBLISH_LATENCY.labels(shard_id=alias, outcome="unavailable").observe(
                time.perf_counter() - started
            )
            span.set_status(trace.Status(trace.StatusCode.ERROR, "event bus unavailable"))
            span.record_exception(exc)
            logger.warning("eventbus_unavailable", shard_id=alias, error=str(exc), batch=len(rows))
            return [exc] * len(rows), True
        failures = sum(isinstance(r, Exception) and not isinstance(r, HeldBack) for r in results)
        EVENTBUS_PUBLISH_LATENCY.labels(shard_id=alias, outcome="error" if failures else "ok").observe(
            time.perf_counter() - started
        )
        span.set_attribute("pimlab.publish.failures", failures)
        return results, False


def _record_results(alias: str, rows: list[dict], results: list, *, now, bus_unavailable: bool) -> BatchOutcome:
    published_ids: list[int] = []
    published_by_type: dict[str, int] = {}
    failed: list[OutboxEvent] = []
    failed_aggregates: set[int] = set()
    dead_lettered = 0
    limit = max_attempts()
    for row, result in zip(rows, results, strict=True):
        if isinstance(result, HeldBack) or row["aggregate_id"] in failed_aggregates:
            # An earlier event of this aggregate failed in this batch: the later one was not sent and
            # stays pending (no attempt charged); the claim query holds it back until the earlier goes.
            continue
        if not isinstance(result, Exception):
            published_ids.append(row["id"])
            published_by_type[row["event_type"]] = published_by_type.get(row["event_type"], 0) + 1
            continue
        failed_aggregates.add(row["aggregate_id"])
        attempts = row["attempts"] + 1
        # A bus outage is not the event's fault: it backs off but never becomes a dead letter.
        dead = not bus_unavailable and attempts >= limit
        failed.append(
            OutboxEvent(
                id=row["id"],
                attempts=attempts,
                status=OutboxStatus.DEAD if dead else OutboxStatus.PENDING,
                next_attempt_at=None if dead else now + timedelta(seconds=backoff_seconds(attempts)),
                last_error=f"{type(result).__name__}: {result}"[:2000],
            )
        )
        reason = "bus_unavailable" if bus_unavailable else "rejected"
        OUTBOX_PUBLISH_RETRIES_TOTAL.labels(shard_id=alias, event_type=row["event_type"], reason=reason).inc()
        if dead:
            dead_lettered += 1
            OUTBOX_DEAD_LETTERED_TOTAL.labels(shard_id=alias, event_type=row["event_type"]).inc()
            logger.error(
                "outbox_event_dead_lettered",
                shard_id=alias,
                event_id=str(row["id"]),
                event_type=row["event_type"],
                attempts=attempts,
                error=str(result)[:300],
            )
        elif not bus_unavailable:
            logger.warning(
                "outbox_publish_failed",
                shard_id=alias,
                event_id=str(row["id"]),
                event_type=row["event_type"],
                attempts=attempts,
                error=str(result)[:300],
            )
    if published_ids:
        _mark_published(alias, published_ids)
        for event_type, count in published_by_type.items():
            OUTBOX_PUBLISHED_TOTAL.labels(shard_id=alias, event_type=event_type).inc(count)
    if failed:
        OutboxEvent.objects.using(alias).bulk_update(failed, ["attempts", "status", "next_attempt_at", "last_error"])
    return BatchOutcome(
        claimed=len(rows),
        published=len(published_ids),
        failed=len(failed),
        dead_lettered=dead_lettered,
        bus_unavailable=bus_unavailable,
    )


def _mark_published(alias: str, event_ids: list[int]) -> None:
    connection = connections[alias]
    if connection.vendor == "postgresql":
        # One array parameter instead of 500 placeholders: a batch's update stays cheap to parse. The
        # array goes as one text literal: the driver would adapt and quote each element on its own.
        # The table name comes from the model, never from input.
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {OutboxEvent._meta.db_table} SET status = %s, published_at = %s, "  # noqa: S608
                "next_attempt_at = NULL WHERE id = ANY(%s::bigint[])",
                [OutboxStatus.PUBLISHED.value, timezone.now(), "{" + ",".join(map(str, event_ids)) + "}"],
            )
        return
    OutboxEvent.objects.using(alias).filter(id__in=event_ids).update(
        status=OutboxStatus.PUBLISHED, published_at=timezone.now(), next_attempt_at=None
    )
