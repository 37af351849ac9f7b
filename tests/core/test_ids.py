import pytest

from apps.core.ids import BUCKET_COUNT, InvalidShardedId, bucket_of, new_id
from apps.core.resolver import shard_for_id

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.mark.parametrize("bucket", [0, 1, 511, 512, 777, BUCKET_COUNT - 1])
def test_an_id_carries_its_bucket(bucket):
    ids = {new_id(bucket) for _ in range(50)}
    assert len(ids) == 50
    assert {bucket_of(i) for i in ids} == {bucket}
    assert all(0 < i < 1 << 63 for i in ids)


@pytest.mark.parametrize(("bucket", "shard"), [(0, "shard_0"), (511, "shard_0"), (512, "shard_1"), (1023, "shard_1")])
def test_an_id_names_its_shard_through_the_default_map(bucket, shard):
    sharded_id = new_id(bucket)
    assert shard_for_id(sharded_id) == shard
    assert shard_for_id(str(sharded_id)) == shard


@pytest.mark.parametrize("bad", ["", "abc", "-5", 0, 1 << 63, None])
def test_malformed_ids_are_rejected_clearly(bad):
    with pytest.raises(InvalidShardedId):
        bucket_of(bad)


def test_buckets_outside_the_range_are_refused():
    with pytest.raises(InvalidShardedId):
        new_id(BUCKET_COUNT)
