"""The audit shipper: moves committed AUDIT_EVENT rows from a shard into the audit store's chain.

It is the single writer of each shard's chain: every batch locks the chain head row in the audit
store, so two shippers for one shard take turns and never fork the chain. Chaining happens here,
off the request path. When the audit store is unreachable the events simply stay on their shard
(the buffer) and the buffer metrics rise; the next run drains them in order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog
from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from apps.telemetry import context
from apps.telemetry.participants import Participant
from apps.telemetry.tracing import tracer

from .chain import GENESIS_HASH, chain_key_ring, link_sign
from .metrics import (
    AUDIT_BUFFER_DEPTH,
    AUDIT_BUFFER_OLDEST_AGE_SECONDS,
    AUDIT_EVENTS_SHIPPED_TOTAL,
    AUDIT_SHIP_FAILURES_TOTAL,
    AUDIT_STORE_AVAILABLE,
)
from .models import AuditChainHead, AuditEvent, AuditRecord
from .services import audit_write_latency_observe

logger = structlog.get_logger(__name__)

AUDIT_STORE_ALIAS = "audit"


@dataclass(frozen=True)
class AuditBuffer:
    shard_alias: str
    depth: int
    oldest_age_seconds: float


@dataclass(frozen=True)
class AuditShipResult:
    shard_alias: str
    shipped: int
    store_available: bool
    buffer: AuditBuffer


def audit_buffer_measure(*, shard_alias: str) -> AuditBuffer:
    """Depth and oldest age of the shard's unshipped events; also sets the buffer gauges."""
    pending = AuditEvent.objects.using(shard_alias).filter(shipped_at__isnull=True)
    depth = pending.count()
    oldest = pending.order_by("occurred_at").values_list("occurred_at", flat=True).first()
    age = max(0.0, (timezone.now() - oldest).total_seconds()) if oldest else 0.0
    AUDIT_BUFFER_DEPTH.labels(shard_id=shard_alias).set(depth)
    AUDIT_BUFFER_OLDEST_AGE_SECONDS.labels(shard_id=shard_alias).set(age)
    return AuditBuffer(shard_alias=shard_alias, depth=depth, oldest_age_seconds=age)


def audit_events_ship(*, shard_alias: str, batch_size: int | None = None, max_batches: int = 50) -> AuditShipResult:
    """Ship this shard's unshipped events, oldest first, in batches; never raises for a store outage."""
    batch_size = batch_size or settings.PIMLAB_AUDIT_SHIP_BATCH_SIZE
    context.bind(shard_id=shard_alias)
    shipped = 0
    with tracer().start_as_current_span(Participant.AUDIT_SHIPPER, attributes={"shard_id": shard_alias}) as span:
        try:
            connections[AUDIT_STORE_ALIAS].ensure_connection()
        except DatabaseError as exc:
            return _store_unavailable(shard_alias, exc, span)
        try:
            for _ in range(max_batches):
                appended = _ship_batch(shard_alias=shard_alias, batch_size=batch_size)
                shipped += appended
                if appended < batch_size:
                    break
        except DatabaseError as exc:
            if not _store_reachable():
                return _store_unavailable(shard_alias, exc, span, shipped=shipped)
            raise
        AUDIT_STORE_AVAILABLE.labels(shard_id=shard_alias).set(1)
        buffer = audit_buffer_measure(shard_alias=shard_alias)
        span.set_attribute("audit.shipped", shipped)
        if shipped:
            logger.info("audit_events_shipped", shard_id=shard_alias, shipped=shipped, buffered=buffer.depth)
        return AuditShipResult(shard_alias=shard_alias, shipped=shipped, store_available=True, buffer=buffer)


def _store_reachable() -> bool:
    connection = connections[AUDIT_STORE_ALIAS]
    if connection.in_atomic_block:
        return connection.is_usable()
    connection.close_if_unusable_or_obsolete()
    try:
        connection.ensure_connection()
    except DatabaseError:
        return False
    return connection.is_usable()


def _store_unavailable(shard_alias: str, exc: Exception, span, *, shipped: int = 0) -> AuditShipResult:
    connection = connections[AUDIT_STORE_ALIAS]
    if not connection.in_atomic_block:
        # Drop the broken connection so the next run reconnects from scratch.
        connection.close()
    AUDIT_SHIP_FAILURES_TOTAL.labels(shard_id=shard_alias, reason="store_unavailable").inc()
    AUDIT_STORE_AVAILABLE.labels(shard_id=shard_alias).set(0)
    buffer = audit_buffer_measure(shard_alias=shard_alias)
    span.set_attribute("audit.store_available", False)
    logger.warning(
        "audit_store_unavailable_buffering",
        shard_id=shard_alias,
        error=type(exc).__name__,
        buffer_depth=buffer.depth,
        buffer_oldest_age_seconds=round(buffer.oldest_age_seconds, 1),
        alert=buffer.oldest_age_seconds > settings.PIMLAB_AUDIT_BUFFER_ALERT_AGE_SECONDS,
        runbook="docs/runbooks/11_audit-log-degradation.md",
    )
    return AuditShipResult(shard_alias=shard_alias, shipped=shipped, store_available=False, buffer=buffer)


def _ship_batch(*, shard_alias: str, batch_size: int) -> int:
    """Append one batch to the chain (one audit-store transaction), then mark the events shipped."""
    with transaction.atomic(using=AUDIT_STORE_ALIAS):
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(shard_alias=shard_alias)
        # Read the queue only while holding the head: a concurrent shipper waits, then sees our marks
        # (or our records, if it reads before we mark the shard).
        events = list(
            AuditEvent.objects.using(shard_alias)
            .filter(shipped_at__isnull=True)
            .order_by("occurred_at", "id")[:batch_size]
        )
        if not events:
            return 0
        already_stored = dict(
            AuditRecord.objects.filter(
                shard_alias=shard_alias, source_event_id__in=[event.id for event in events]
            ).values_list("source_event_id", "sequence")
        )
        sequence, prev_hash = head.last_sequence, head.last_hash or GENESIS_HASH
        ring = chain_key_ring()
        records = []
        for event in events:
            if event.id in already_stored:
                event.chain_sequence = already_stored[event.id]
                continue
            sequence += 1
            fields = {
                "shard_alias": shard_alias,
                "sequence": sequence,
                "source_event_id": event.id,
                "patient_id": event.patient_id,
                "occurred_at": event.occurred_at,
                "action": event.action,
                "outcome": event.outcome,
                "resource_type": event.resource_type,
                "resource_id": event.resource_id,
                "actor_user_id": event.actor_user_id,
                "actor_role": event.actor_role,
                "request_id": event.request_id,
                "trace_id": event.trace_id,
                "detail": event.detail,
            }
            key_id, chain_hash = link_sign(prev_hash=prev_hash, fields=fields, ring=ring)
            records.append(AuditRecord(**fields, key_id=key_id, prev_hash=prev_hash, chain_hash=chain_hash))
            event.chain_sequence = sequence
            prev_hash = chain_hash
        started = time.perf_counter()
        if records:
            AuditRecord.objects.bulk_create(records)
            head.last_sequence, head.last_hash = sequence, prev_hash
            head.save(update_fields=["last_sequence", "last_hash", "updated_at"])
        audit_write_latency_observe(stage="store", shard_id=shard_alias, seconds=time.perf_counter() - started)
    # The chain is committed; marking the shard may fail, and the next run then skips the
    # already-stored events (see ``already_stored``) instead of chaining them twice.
    now = timezone.now()
    for event in events:
        event.shipped_at = now
    AuditEvent.objects.using(shard_alias).bulk_update(events, ["shipped_at", "chain_sequence"])
    AUDIT_EVENTS_SHIPPED_TOTAL.labels(shard_id=shard_alias).inc(len(records))
    return len(events)


def audit_shards() -> list[str]:
    return list(settings.SHARD_ALIASES)
