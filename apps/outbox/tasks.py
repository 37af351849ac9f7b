"""Celery tasks of the outbox relay: thin wrappers around ``relay.outbox_relay_drain``."""

from __future__ import annotations

import threading
import time
from functools import partial

import structlog
from celery import shared_task
from django.conf import settings
from django.db import transaction

from .metrics import outbox_backlog_record
from .relay import outbox_relay_drain
from .retention import outbox_published_purge

logger = structlog.get_logger(__name__)

# A nudge is a hint, not a guarantee (beat drains every few seconds anyway): one per shard per
# interval and process is enough, and keeps the broker off the booking hot path.
NUDGE_INTERVAL_SECONDS = 1.0
_last_nudge: dict[str, float] = {}
_nudge_lock = threading.Lock()


@shared_task(name="outbox.relay_drain", ignore_result=True, acks_late=True, expires=60)
def outbox_relay_drain_task(shard_alias: str) -> int:
    return outbox_relay_drain(shard_alias=shard_alias)


@shared_task(name="outbox.relay_fan_out", bind=True, ignore_result=True, expires=10)
def outbox_relay_fan_out_task(self) -> None:
    """Beat entry point: one drain task per shard, so shards drain in parallel on the workers.

    The drain tasks go to the queue the fan-out came from, so a dedicated relay queue stays one."""
    queue = (self.request.delivery_info or {}).get("routing_key") or None
    for alias in settings.SHARD_ALIASES:
        outbox_relay_drain_task.apply_async(args=[alias], expires=30, queue=queue)
    outbox_backlog_record()


@shared_task(name="outbox.published_purge", ignore_result=True, expires=3600)
def outbox_published_purge_task() -> int:
    """Daily: drop published rows past the retention on every shard (pending and dead rows stay)."""
    return sum(outbox_published_purge(using=alias) for alias in settings.SHARD_ALIASES)


def outbox_relay_nudge(*, shard_alias: str) -> bool:
    """Ask a worker to drain ``shard_alias`` now. Never raises: a missed nudge only waits for beat."""
    now = time.monotonic()
    with _nudge_lock:
        if now - _last_nudge.get(shard_alias, float("-inf")) < NUDGE_INTERVAL_SECONDS:
            return False
        _last_nudge[shard_alias] = now
    try:
        outbox_relay_drain_task.apply_async(args=[shard_alias], expires=30, retry=False)
    except Exception as exc:  # the broker being down must not fail the committed request
        logger.warning("outbox_relay_nudge_failed", shard_id=shard_alias, error=str(exc))
        return False
    return True


def outbox_relay_nudge_on_commit(*, using: str) -> None:
    """Nudge the relay of shard ``using`` once the caller's transaction commits."""
    transaction.on_commit(partial(outbox_relay_nudge, shard_alias=using), using=using)
