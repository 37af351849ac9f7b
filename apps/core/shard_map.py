"""Writing the shard map: the even initial split used on a fresh catalog."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from .ids import BUCKET_COUNT
from .models import ShardMapEntry


def shard_map_spread_evenly(*, aliases: list[str] | None = None, note: str = "initial even split") -> int:
    """Map all logical buckets evenly over ``aliases`` when the map is empty; returns entries created."""
    shards = list(aliases or settings.SHARD_ALIASES)
    with transaction.atomic(using="default"):
        if ShardMapEntry.objects.using("default").exists():
            return 0
        per_shard = BUCKET_COUNT // len(shards)
        entries = []
        for index, alias in enumerate(shards):
            start = index * per_shard
            end = BUCKET_COUNT - 1 if index == len(shards) - 1 else start + per_shard - 1
            entries.append(ShardMapEntry(bucket_start=start, bucket_end=end, shard_alias=alias, note=note))
        ShardMapEntry.objects.using("default").bulk_create(entries)
    from .resolver import resolver

    resolver.invalidate()
    return len(entries)
