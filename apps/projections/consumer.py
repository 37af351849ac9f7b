"""The projection worker: a consumer in a Redis Streams consumer group.

Each batch is applied in one catalog transaction and acknowledged only after it commits, so a
worker that dies mid-batch leaves its entries pending; the next worker claims them after
``claim_idle_ms`` (XAUTOCLAIM) and re-applies them, and the event-id ledger makes that harmless.
Malformed envelopes go to a dead-letter stream instead of blocking the batch."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import defaultdict
from dataclasses import dataclass, field

import structlog
from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils import timezone
from opentelemetry import propagate, trace
from opentelemetry.trace import Link

from apps.outbox.eventbus import BusMessage, EventBus
from apps.outbox.events import EventType
from apps.telemetry.participants import Participant
from apps.telemetry.tracing import remote_parent_not_sampled, tracer, unsampled_remote_parents_dropped

from .events import CONSUMER_GROUP, DEAD_LETTER_STREAM, PROJECTION_NAME, STREAMS, MalformedEvent, parse_envelope
from .metrics import (
    PROJECTION_APPLY_LAG_SECONDS,
    PROJECTION_DEAD_LETTERS_TOTAL,
    PROJECTION_EVENTS_APPLIED_TOTAL,
    PROJECTION_EVENTS_DUPLICATE_TOTAL,
    PROJECTION_POISON_MESSAGES_TOTAL,
    PROJECTION_REDELIVERED_TOTAL,
    PROJECTION_WORKER_LAG_SECONDS,
)
from .services import ApplyResult, read_models_apply

logger = structlog.get_logger(__name__)

# Correlation ids carried in the envelope headers (written by the outbox with the request's context).
CORRELATION_HEADERS = ("request_id", "trace_id", "user_id", "persona", "actor_role", "shard_id")


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class BatchOutcome:
    delivered: int = 0
    applied: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    redelivered: int = 0
    # Commit-to-applied delay of each event applied in this batch, measured after commit and ack.
    lags_seconds: list[float] = field(default_factory=list)


class ProjectionConsumer:
    def __init__(
        self,
        *,
        bus: EventBus,
        consumer: str | None = None,
        batch_size: int = 200,
        block_ms: int | None = 1000,
        claim_idle_ms: int = 30_000,
        claim_interval_seconds: float = 5.0,
        trace_events: bool = True,
        max_deliveries: int | None = None,
    ):
        self.bus = bus
        self.consumer = consumer or default_consumer_name()
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.claim_interval_seconds = claim_interval_seconds
        self.trace_events = trace_events
        self._last_claim = float("-inf")
        if max_deliveries is None:
            max_deliveries = settings.PIMLAB_PROJECTION_MAX_DELIVERIES
        self.max_deliveries = max_deliveries

    # -- reading ---------------------------------------------------------------------------------

    def _claim_stale(self) -> list[BusMessage]:
        claimed: list[BusMessage] = []
        for stream in STREAMS:
            claimed += self.bus.claim_stale(
                stream=stream,
                group=CONSUMER_GROUP,
                consumer=self.consumer,
                min_idle_ms=self.claim_idle_ms,
                count=self.batch_size,
            )
        if claimed:
            PROJECTION_REDELIVERED_TOTAL.labels(projection=PROJECTION_NAME).inc(len(claimed))
            logger.warning("projection_pending_claimed", count=len(claimed), consumer=self.consumer)
        poison = [message for message in claimed if message.delivery_count > self.max_deliveries]
        for message in poison:
            self._set_aside_poison(message)
        return [message for message in claimed if message.delivery_count <= self.max_deliveries]

    def _set_aside_poison(self, message: BusMessage) -> None:
        """An entry that failed every delivery so far would be reclaimed forever and hold its batch back:
        it goes to the dead-letter stream, is acknowledged, and an alert says so."""
        from apps.slo.services import alert_event_record

        error = f"delivered {message.delivery_count} times (limit {self.max_deliveries}) without being applied"
        self._dead_letter(message, error)
        self.bus.ack(message.stream, CONSUMER_GROUP, [message.message_id])
        PROJECTION_POISON_MESSAGES_TOTAL.labels(projection=PROJECTION_NAME, stream=message.stream).inc()
        event_id = message.event.get("event_id", "") if isinstance(message.event, dict) else ""
        alert_event_record(
            name="ProjectionPoisonMessages",
            severity="warning",
            status="firing",
            labels={"projection": PROJECTION_NAME, "stream": message.stream},
            annotations={
                "summary": f"Stream entry {message.message_id} (event {event_id or 'unknown'}) failed "
                f"{message.delivery_count} deliveries and was moved to {DEAD_LETTER_STREAM}.",
                "runbook": "docs/runbooks/18_projection-backlog.md",
                "message_id": message.message_id,
                "event_id": str(event_id),
            },
        )

    def read(self, *, block_ms: int | None = None) -> tuple[list[BusMessage], bool]:
        """The next batch: stale pending entries first (crash recovery), then new ones."""
        now = time.monotonic()
        if now - self._last_claim >= self.claim_interval_seconds:
            self._last_claim = now
            claimed = self._claim_stale()
            if claimed:
                return claimed, True
        return (
            self.bus.read_group(
                group=CONSUMER_GROUP,
                consumer=self.consumer,
                streams=list(STREAMS),
                count=self.batch_size,
                block_ms=block_ms,
            ),
            False,
        )

    # -- one batch -------------------------------------------------------------------------------

    def run_once(self, *, blocking: bool = True) -> BatchOutcome:
        messages, redelivered = self.read(block_ms=self.block_ms if blocking else None)
        outcome = BatchOutcome(delivered=len(messages), redelivered=len(messages) if redelivered else 0)
        if messages and redelivered:
            self._process_one_by_one(messages, outcome)
        elif messages:
            self.process(messages, outcome)
        return outcome

    def _process_one_by_one(self, messages: list[BusMessage], outcome: BatchOutcome) -> None:
        """Redelivered entries are applied one at a time, so one that always fails does not take the
        entries claimed with it past the delivery limit; it alone stays pending."""
        failure: DatabaseError | None = None
        for message in messages:
            try:
                self.process([message], outcome)
            except DatabaseError as exc:
                failure = exc
        if failure is not None and outcome.applied + outcome.duplicates + outcome.dead_lettered == 0:
            raise failure

    def process(self, messages: list[BusMessage], outcome: BatchOutcome | None = None) -> BatchOutcome:
        outcome = outcome or BatchOutcome(delivered=len(messages))
        parsed, to_ack = [], defaultdict(list)
        for message in messages:
            try:
                parsed.append((message, parse_envelope(message.event)))
            except MalformedEvent as exc:
                # Acknowledged at once: it is safe in the dead-letter stream whatever happens to the batch.
                self._dead_letter(message, str(exc))
                self.bus.ack(message.stream, CONSUMER_GROUP, [message.message_id])
                outcome.dead_lettered += 1
        started_ns = time.time_ns()
        with tracer("pimlab.projections").start_as_current_span(
            Participant.PROJECTION_WORKER,
            links=[link for _, event in parsed[:100] if (link := _producer_link(event.headers)) is not None],
            attributes={"projection": PROJECTION_NAME, "messaging.batch.message_count": len(parsed)},
        ) as batch_span:
            try:
                result = read_models_apply([event for _, event in parsed]) if parsed else ApplyResult()
            except DatabaseError:
                # Not acknowledged: the entries stay pending and are redelivered.
                logger.exception("projection_batch_failed", consumer=self.consumer, count=len(parsed))
                raise
            for message, _event in parsed:
                to_ack[message.stream].append(message.message_id)
            for stream, ids in to_ack.items():
                self.bus.ack(stream, CONSUMER_GROUP, ids)
        outcome.applied += len(result.applied)
        outcome.duplicates += result.duplicates
        if result.duplicates:
            PROJECTION_EVENTS_DUPLICATE_TOTAL.labels(projection=PROJECTION_NAME).inc(result.duplicates)
        if result.applied:
            acknowledged_at = timezone.now()
            outcome.lags_seconds = [(acknowledged_at - event.occurred_at).total_seconds() for event in result.applied]
            self._observe(result, batch_span, started_ns)
        return outcome

    def _observe(self, result: ApplyResult, batch_span, started_ns: int) -> None:
        applied_at = result.applied_at or timezone.now()
        lags_by_type: dict[str, list[float]] = defaultdict(list)
        for event in result.applied:
            lags_by_type[event.event_type].append((applied_at - event.occurred_at).total_seconds())
        # One labelled child per event type and batch: each lag is still observed, the counter moves once.
        for event_type, lags in lags_by_type.items():
            histogram = PROJECTION_APPLY_LAG_SECONDS.labels(projection=PROJECTION_NAME, event_type=event_type)
            for lag in lags:
                histogram.observe(max(lag, 0.0))
            PROJECTION_EVENTS_APPLIED_TOTAL.labels(projection=PROJECTION_NAME, event_type=event_type).inc(len(lags))
        last = result.applied[-1]
        PROJECTION_WORKER_LAG_SECONDS.labels(projection=PROJECTION_NAME).set(
            max((timezone.now() - last.occurred_at).total_seconds(), 0.0)
        )
        if not self.trace_events:
            return
        ended_ns = time.time_ns()
        batch_link = Link(batch_span.get_span_context())
        span_tracer = tracer("pimlab.projections")
        log_applied = logger.isEnabledFor(logging.INFO)
        skip_unsampled = unsampled_remote_parents_dropped()
        for event in result.applied:
            headers = event.headers
            skip_spans = skip_unsampled and remote_parent_not_sampled(headers)
            if skip_spans and not log_applied:
                continue
            correlation = {key: value for key in CORRELATION_HEADERS if (value := headers.get(key))}
            if log_applied:
                # Passed as fields rather than bound: the same line (they win over bound values), without
                # binding and unbinding six context variables per event.
                logger.info(
                    "projection_event_applied",
                    **correlation,
                    event_id=event.event_id,
                    event_type=event.event_type,
                    projection=PROJECTION_NAME,
                    lag_seconds=round((applied_at - event.occurred_at).total_seconds(), 3),
                )
            if skip_spans:
                # The producing request's trace was dropped by head sampling: these spans would be too.
                continue
            self._event_spans(
                span_tracer, event, correlation, batch_link, started_ns, result.kpi_update_started_ns, ended_ns
            )

    def _event_spans(
        self,
        span_tracer,
        event,
        correlation: dict,
        batch_link: Link,
        started_ns: int,
        kpi_started_ns: int | None,
        ended_ns: int,
    ) -> None:
        """Continue the producing request's trace: its claim reaches the dashboard in the same trace."""
        parent = propagate.extract(event.headers)
        attributes = {
            "event_id": event.event_id,
            "event_type": event.event_type,
            "projection": PROJECTION_NAME,
            **{key: str(value) for key, value in correlation.items()},
        }
        span = span_tracer.start_span(
            Participant.PROJECTION_WORKER,
            context=parent,
            links=[batch_link],
            attributes=attributes,
            start_time=started_ns,
        )
        if event.event_type != EventType.ENCOUNTER_CREATED:
            child = span_tracer.start_span(
                Participant.FINANCIAL_DASHBOARD,
                context=trace.set_span_in_context(span),
                attributes={**attributes, "kpi": "financial_daily_aggregate"},
                start_time=kpi_started_ns or started_ns,
            )
            child.end(end_time=ended_ns)
        span.end(end_time=ended_ns)

    def _dead_letter(self, message: BusMessage, error: str) -> None:
        event_type = str(message.event.get("event_type", "unknown")) if isinstance(message.event, dict) else "unknown"
        PROJECTION_DEAD_LETTERS_TOTAL.labels(projection=PROJECTION_NAME, event_type=event_type).inc()
        logger.error(
            "projection_event_dead_lettered", stream=message.stream, message_id=message.message_id, error=error
        )
        # Every bus keeps dead letters (Redis: a stream; embedded: entries of that stream in the catalog).
        self.bus.dead_letter(dead_letter_stream=DEAD_LETTER_STREAM, message=message, error=error)

    # -- the loop --------------------------------------------------------------------------------

    def run(self, *, stop, max_batches: int | None = None, on_batch=None) -> int:
        """Consume until ``stop()`` is true (or ``max_batches``); returns the number of events applied."""
        applied = batches = failures = 0
        while not stop() and (max_batches is None or batches < max_batches):
            try:
                outcome = self.run_once()
            except (DatabaseError, *_bus_errors()) as exc:
                # Catalog or bus unavailable: nothing was acknowledged, so back off and try again;
                # the entries are redelivered (to this or another worker) once things recover.
                failures += 1
                delay = min(30.0, 0.5 * 2 ** min(failures, 6))
                logger.warning("projection_worker_backoff", error=type(exc).__name__, delay_seconds=delay)
                close_old_connections()
                time.sleep(delay)
                continue
            failures = 0
            applied += outcome.applied
            batches += 1
            if on_batch is not None:
                on_batch(outcome)
        return applied

    def drain(self, *, max_batches: int = 1000) -> int:
        """Apply everything currently waiting, without blocking (beat task and tests)."""
        applied = 0
        for _ in range(max_batches):
            outcome = self.run_once(blocking=False)
            applied += outcome.applied
            if outcome.delivered == 0:
                break
        return applied


def _bus_errors() -> tuple[type[Exception], ...]:
    try:
        import redis
    except ImportError:
        return ()
    return (redis.ConnectionError, redis.TimeoutError)


def _producer_link(headers: dict) -> Link | None:
    context = trace.get_current_span(propagate.extract(headers)).get_span_context()
    return Link(context) if context.is_valid else None
