"""Shard resolver: logical bucket -> physical shard alias, through a TTL-cached shard map.

A stale or incomplete map falls back to the last known mapping with a warning and a metric
(seed FR-04.2); with no mapping at all it raises ``ShardMapMissing``.
"""

from __future__ import annotations

import threading
import time

import structlog
from django.conf import settings
from django.db import DatabaseError

from .errors import DependencyUnavailable
from .ids import BUCKET_COUNT, bucket_of
from .metrics import SHARD_MAP_AGE_SECONDS, SHARD_MAP_FALLBACK_TOTAL

logger = structlog.get_logger(__name__)


class ShardMapMissing(DependencyUnavailable, LookupError):
    """No mapping, current or remembered, exists for a bucket."""

    code = "shard_map_missing"
    title = "Shard map incomplete"
    remediation = "An operator must map this bucket in the shard map; retry afterwards."
    dependency = "shard_map"
    retry_after = 30


class ShardResolver:
    def __init__(self, ttl_seconds: float | None = None, clock=time.monotonic):
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._current: list[str | None] | None = None
        self._last_known: list[str | None] = [None] * BUCKET_COUNT
        self._loaded_at = float("-inf")

    @property
    def ttl(self) -> float:
        return settings.PIMLAB_SHARD_MAP_TTL_SECONDS if self._ttl is None else self._ttl

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = float("-inf")

    def forget(self) -> None:
        """Drop everything, including the fallback memory (tests and shard moves)."""
        with self._lock:
            self._current = None
            self._last_known = [None] * BUCKET_COUNT
            self._loaded_at = float("-inf")

    def shard_for_id(self, sharded_id: int | str) -> str:
        return self.shard_for_bucket(bucket_of(sharded_id))

    def shard_for_bucket(self, bucket: int) -> str:
        current = self._current_map()
        alias = current[bucket] if current is not None else None
        if alias is not None:
            return alias
        remembered = self._last_known[bucket]
        if remembered is not None:
            reason = "map_unavailable" if current is None else "entry_missing"
            SHARD_MAP_FALLBACK_TOTAL.labels(reason=reason).inc()
            logger.warning("shard_map_fallback", bucket=bucket, shard_id=remembered, reason=reason)
            return remembered
        raise ShardMapMissing(
            f"No shard is mapped for logical bucket {bucket}. Add a shard map entry covering it "
            "(Django admin → Core → Shard map) or run `python manage.py seed_lab`."
        )

    def _current_map(self) -> list[str | None] | None:
        now = self._clock()
        if now - self._loaded_at < self.ttl:
            return self._current
        with self._lock:
            if now - self._loaded_at < self.ttl:
                return self._current
            try:
                self._current = self._load()
            except DatabaseError as exc:
                # Keep serving from memory; retry the load on the next call after a short pause.
                logger.warning("shard_map_load_failed", error=str(exc))
                self._current = None
                self._loaded_at = now - self.ttl + min(self.ttl, 1.0)
                return None
            for bucket, alias in enumerate(self._current):
                if alias is not None:
                    self._last_known[bucket] = alias
            self._loaded_at = now
            SHARD_MAP_AGE_SECONDS.set(0)
            return self._current

    def _load(self) -> list[str | None]:
        from .models import ShardMapEntry

        mapping: list[str | None] = [None] * BUCKET_COUNT
        configured = set(settings.SHARD_ALIASES)
        for entry in ShardMapEntry.objects.using("default").all():
            if entry.shard_alias not in configured:
                logger.warning("shard_map_unknown_alias", shard_id=entry.shard_alias, bucket_start=entry.bucket_start)
                continue
            for bucket in range(entry.bucket_start, min(entry.bucket_end, BUCKET_COUNT - 1) + 1):
                mapping[bucket] = entry.shard_alias
        return mapping


resolver = ShardResolver()


def shard_for_id(sharded_id: int | str) -> str:
    return resolver.shard_for_id(sharded_id)


def shard_for_bucket(bucket: int) -> str:
    return resolver.shard_for_bucket(bucket)
