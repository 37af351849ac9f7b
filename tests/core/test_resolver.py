import pytest
from django.db import OperationalError
from prometheus_client import REGISTRY

from apps.core.ids import new_id
from apps.core.models import ShardMapEntry
from apps.core.resolver import ShardMapMissing, ShardResolver
from tests.support.logs import json_log_lines

pytestmark = pytest.mark.django_db(databases="__all__")


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def fallback_count(reason: str) -> float:
    return REGISTRY.get_sample_value("shard_map_fallback_total", {"reason": reason}) or 0.0


def test_the_map_is_cached_for_its_ttl_then_reloaded():
    clock = FakeClock()
    resolver = ShardResolver(ttl_seconds=30, clock=clock)
    assert resolver.shard_for_bucket(10) == "shard_0"
    # Move the first half of the buckets to shard_1 behind the resolver's back.
    ShardMapEntry.objects.filter(shard_alias="shard_0").update(shard_alias="shard_1")
    clock.now += 29
    assert resolver.shard_for_bucket(10) == "shard_0", "inside the TTL the cached map answers"
    clock.now += 2
    assert resolver.shard_for_bucket(10) == "shard_1", "after the TTL the map is reloaded"


def test_invalidate_forces_a_reload():
    clock = FakeClock()
    resolver = ShardResolver(ttl_seconds=30, clock=clock)
    assert resolver.shard_for_id(new_id(900)) == "shard_1"
    ShardMapEntry.objects.filter(shard_alias="shard_1").update(shard_alias="shard_0")
    resolver.invalidate()
    assert resolver.shard_for_id(new_id(900)) == "shard_0"


def test_a_missing_entry_falls_back_to_the_last_known_shard_with_warning_and_metric():
    clock = FakeClock()
    resolver = ShardResolver(ttl_seconds=30, clock=clock)
    assert resolver.shard_for_bucket(900) == "shard_1"
    ShardMapEntry.objects.filter(shard_alias="shard_1").delete()
    clock.now += 31
    before = fallback_count("entry_missing")
    with json_log_lines() as lines:
        assert resolver.shard_for_bucket(900) == "shard_1"
    assert fallback_count("entry_missing") == before + 1
    warnings = [line for line in lines if line["event"] == "shard_map_fallback"]
    assert len(warnings) == 1
    assert warnings[0]["level"] == "warning"
    assert warnings[0]["bucket"] == 900 and warnings[0]["shard_id"] == "shard_1"
    assert warnings[0]["reason"] == "entry_missing"


def test_an_unreadable_map_falls_back_to_the_last_known_shard():
    clock = FakeClock()
    resolver = ShardResolver(ttl_seconds=30, clock=clock)
    assert resolver.shard_for_bucket(5) == "shard_0"

    def catalog_down():
        raise OperationalError("connection refused")

    resolver._load = catalog_down
    clock.now += 31
    before = fallback_count("map_unavailable")
    with json_log_lines() as lines:
        assert resolver.shard_for_bucket(5) == "shard_0"
    assert fallback_count("map_unavailable") == before + 1
    events = [line["event"] for line in lines]
    assert "shard_map_load_failed" in events and "shard_map_fallback" in events


def test_no_mapping_at_all_raises_a_clear_error():
    ShardMapEntry.objects.filter(bucket_start__lte=42, bucket_end__gte=42).delete()
    resolver = ShardResolver(ttl_seconds=30, clock=FakeClock())
    with pytest.raises(ShardMapMissing, match=r"No shard is mapped for logical bucket 42.*Shard map"):
        resolver.shard_for_bucket(42)
    # Other buckets still resolve.
    assert resolver.shard_for_bucket(900) == "shard_1"


def test_entries_naming_an_unknown_alias_are_ignored():
    ShardMapEntry.objects.filter(shard_alias="shard_1").update(shard_alias="shard_9")
    resolver = ShardResolver(ttl_seconds=30, clock=FakeClock())
    with pytest.raises(ShardMapMissing):
        resolver.shard_for_bucket(900)
